//! Lambda `page-forgot-password`: GET /forgot-password: the forgotten-password page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-forgot-password").await
}
