//! Lambda `page-settings`: GET /app/settings: the organization's settings.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-settings").await
}
