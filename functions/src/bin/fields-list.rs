//! Lambda `fields-list`: GET /fields.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("fields-list").await
}
