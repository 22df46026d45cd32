//! Lambda `invitations-accept`: POST /invitations/accept.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("invitations-accept").await
}
