//! Lambda `imports-append-part`: POST /imports/{id}/parts.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("imports-append-part").await
}
