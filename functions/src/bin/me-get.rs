//! Lambda `me-get`: GET /me.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("me-get").await
}
