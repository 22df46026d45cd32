//! Lambda `members-remove`: DELETE /org/members/{userId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("members-remove").await
}
