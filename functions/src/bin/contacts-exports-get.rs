//! Lambda `contacts-exports-get`: GET /contacts/exports/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-exports-get").await
}
