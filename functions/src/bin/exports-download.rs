//! Lambda `exports-download`: GET /exports/{id}/download.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("exports-download").await
}
