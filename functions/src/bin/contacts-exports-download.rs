//! Lambda `contacts-exports-download`: GET /contacts/exports/{id}/download.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-exports-download").await
}
