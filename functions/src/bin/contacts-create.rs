//! Lambda `contacts-create`: POST /contacts.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-create").await
}
