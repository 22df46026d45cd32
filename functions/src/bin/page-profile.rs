//! Lambda `page-profile`: GET /app/profile: the profile page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-profile").await
}
