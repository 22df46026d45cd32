//! Lambda `page-contacts-export`: POST /app/contacts/export: the contacts table's export button.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contacts-export").await
}
