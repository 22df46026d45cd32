//! Lambda `page-invite`: POST /app/settings/invitations: the invite form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-invite").await
}
