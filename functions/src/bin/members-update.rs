//! Lambda `members-update`: PATCH /org/members/{userId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("members-update").await
}
