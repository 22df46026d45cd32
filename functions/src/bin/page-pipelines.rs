//! Lambda `page-pipelines`: GET /app/pipelines: the pipelines page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-pipelines").await
}
