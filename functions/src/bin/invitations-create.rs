//! Lambda `invitations-create`: POST /org/invitations.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("invitations-create").await
}
