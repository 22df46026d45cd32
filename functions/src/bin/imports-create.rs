//! Lambda `imports-create`: POST /imports/contacts.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("imports-create").await
}
