//! Lambda `pipelines-delete`: DELETE /pipelines/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-delete").await
}
