//! Lambda `contacts-list`: GET /contacts.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-list").await
}
