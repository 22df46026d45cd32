//! Lambda `page-contact-new`: GET /app/contacts/new: the new-contact form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact-new").await
}
