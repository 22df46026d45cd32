//! Lambda `pipelines-list`: GET /pipelines.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-list").await
}
