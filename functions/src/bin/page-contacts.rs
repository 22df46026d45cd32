//! Lambda `page-contacts`: GET /app/contacts: the contacts table.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contacts").await
}
