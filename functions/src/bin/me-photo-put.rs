//! Lambda `me-photo-put`: PUT /me/photo.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("me-photo-put").await
}
