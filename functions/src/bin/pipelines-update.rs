//! Lambda `pipelines-update`: PATCH /pipelines/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-update").await
}
