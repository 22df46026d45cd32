//! Lambda `page-verify-email`: GET /verify-email.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-verify-email").await
}
