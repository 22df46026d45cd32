//! Lambda `members-list`: GET /org/members.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("members-list").await
}
