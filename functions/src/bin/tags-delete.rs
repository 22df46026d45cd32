//! Lambda `tags-delete`: DELETE /tags/{tag}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("tags-delete").await
}
