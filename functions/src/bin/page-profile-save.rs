//! Lambda `page-profile-save`: POST /app/profile: the profile forms' post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-profile-save").await
}
