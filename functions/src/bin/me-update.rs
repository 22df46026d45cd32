//! Lambda `me-update`: PATCH /me.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("me-update").await
}
