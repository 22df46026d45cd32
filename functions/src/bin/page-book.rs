//! Lambda `page-book`: GET /book/{org_slug}/{event_slug}: the public booking page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-book").await
}
