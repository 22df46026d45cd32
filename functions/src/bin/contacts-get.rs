//! Lambda `contacts-get`: GET /contacts/{contactId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-get").await
}
