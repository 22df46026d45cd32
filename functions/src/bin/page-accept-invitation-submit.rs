//! Lambda `page-accept-invitation-submit`: POST /accept-invitation: the invitation form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-accept-invitation-submit").await
}
