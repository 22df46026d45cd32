//! Lambda `page-scheduling`: GET /app/scheduling: the scheduling page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-scheduling").await
}
