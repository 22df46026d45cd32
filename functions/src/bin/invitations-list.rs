//! Lambda `invitations-list`: GET /org/invitations.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("invitations-list").await
}
