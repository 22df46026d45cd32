//! Lambda `contacts-export`: GET /contacts/export.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-export").await
}
