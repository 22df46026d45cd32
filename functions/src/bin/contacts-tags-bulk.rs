//! Lambda `contacts-tags-bulk`: POST /contacts/tags.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-tags-bulk").await
}
