//! Lambda `imports-errors-export`: POST /imports/{id}/errors/exports.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("imports-errors-export").await
}
