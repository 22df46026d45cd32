//! Lambda `page-board`: GET /app/pipelines/{id}: a pipeline's board.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-board").await
}
