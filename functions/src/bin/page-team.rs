//! Lambda `page-team`: GET /app/settings/team: the members and invitations page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-team").await
}
