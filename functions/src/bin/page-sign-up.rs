//! Lambda `page-sign-up`: GET /sign-up: the sign-up page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-up").await
}
