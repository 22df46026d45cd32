//! Lambda `invitations-revoke`: DELETE /org/invitations/{invitationId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("invitations-revoke").await
}
