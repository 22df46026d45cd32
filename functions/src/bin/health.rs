//! Lambda `health`: GET /health.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("health").await
}
