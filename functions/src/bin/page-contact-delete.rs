//! Lambda `page-contact-delete`: POST /app/contacts/{id}/delete: the record's confirmed delete.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact-delete").await
}
