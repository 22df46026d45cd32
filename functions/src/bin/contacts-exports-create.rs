//! Lambda `contacts-exports-create`: POST /contacts/exports.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-exports-create").await
}
