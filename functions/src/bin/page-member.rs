//! Lambda `page-member`: POST /app/settings/members/{user_id}: a member's role change or removal.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-member").await
}
