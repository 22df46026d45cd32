//! Lambda `page-contact-edit`: GET /app/contacts/{id}/edit: a contact's edit form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact-edit").await
}
