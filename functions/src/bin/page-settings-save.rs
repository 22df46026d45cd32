//! Lambda `page-settings-save`: POST /app/settings: the organization's settings.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-settings-save").await
}
