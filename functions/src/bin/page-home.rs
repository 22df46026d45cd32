//! Lambda `page-home`: GET /app: the staff app's home.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-home").await
}
