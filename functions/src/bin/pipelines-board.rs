//! Lambda `pipelines-board`: GET /pipelines/{id}/board.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-board").await
}
