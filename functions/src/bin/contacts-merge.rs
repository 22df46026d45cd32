//! Lambda `contacts-merge`: POST /contacts/merge.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-merge").await
}
