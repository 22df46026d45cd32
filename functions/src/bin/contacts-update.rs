//! Lambda `contacts-update`: PATCH /contacts/{contactId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-update").await
}
