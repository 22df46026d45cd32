//! Lambda `page-reset-password`: GET /reset-password.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-reset-password").await
}
