//! Lambda `page-pipeline-create`: POST /app/pipelines: the new-pipeline form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-pipeline-create").await
}
