//! Lambda `page-reset-password-submit`: POST /reset-password: the new-password form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-reset-password-submit").await
}
