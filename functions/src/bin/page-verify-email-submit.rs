//! Lambda `page-verify-email-submit`: POST /verify-email: the verification page's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-verify-email-submit").await
}
