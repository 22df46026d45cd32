//! Lambda `page-forgot-password-submit`: POST /forgot-password: the forgotten-password form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-forgot-password-submit").await
}
