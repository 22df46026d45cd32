//! Lambda `page-root`: GET /: the front door.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-root").await
}
