//! Lambda `me-photo-get`: GET /me/photo.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("me-photo-get").await
}
