//! Lambda `page-sign-in`: GET /sign-in: the sign-in page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-in").await
}
