//! Lambda `audit-list`: GET /org/audit.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("audit-list").await
}
