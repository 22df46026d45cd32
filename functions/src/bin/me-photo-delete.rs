//! Lambda `me-photo-delete`: DELETE /me/photo.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("me-photo-delete").await
}
