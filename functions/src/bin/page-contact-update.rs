//! Lambda `page-contact-update`: POST /app/contacts/{id}: the contact edit form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contact-update").await
}
