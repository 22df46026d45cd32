//! Lambda `contacts-delete`: DELETE /contacts/{contactId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-delete").await
}
