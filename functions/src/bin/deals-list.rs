//! Lambda `deals-list`: GET /deals.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("deals-list").await
}
