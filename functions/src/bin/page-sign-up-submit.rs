//! Lambda `page-sign-up-submit`: POST /sign-up: the sign-up form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-up-submit").await
}
