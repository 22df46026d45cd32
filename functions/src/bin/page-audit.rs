//! Lambda `page-audit`: GET /app/settings/audit: the audit log.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-audit").await
}
