//! Lambda `web-assets`: GET /assets/{name}: the staff app's hashed static files.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("web-assets").await
}
