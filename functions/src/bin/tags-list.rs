//! Lambda `tags-list`: GET /tags.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("tags-list").await
}
