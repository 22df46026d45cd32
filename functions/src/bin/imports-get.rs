//! Lambda `imports-get`: GET /imports/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("imports-get").await
}
