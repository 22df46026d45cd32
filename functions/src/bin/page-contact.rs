//! Lambda `page-contact`: GET /app/contacts/{id}: a contact's record.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact").await
}
