//! Lambda `page-sign-in-submit`: POST /sign-in: the sign-in form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-in-submit").await
}
