//! Lambda `page-accept-invitation`: GET /accept-invitation.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-accept-invitation").await
}
