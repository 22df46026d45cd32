//! Lambda `page-contact-create`: POST /app/contacts: the new-contact form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact-create").await
}
