//! Lambda `pipelines-get`: GET /pipelines/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-get").await
}
