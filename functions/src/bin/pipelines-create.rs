//! Lambda `pipelines-create`: POST /pipelines.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("pipelines-create").await
}
