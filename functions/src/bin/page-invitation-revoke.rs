//! Lambda `page-invitation-revoke`: POST /app/settings/invitations/{id}/revoke: a pending invitation's revoke button.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-invitation-revoke").await
}
