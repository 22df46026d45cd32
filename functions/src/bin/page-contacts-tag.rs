//! Lambda `page-contacts-tag`: POST /app/contacts/tags: the bulk tag form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-contacts-tag").await
}
