//! Lambda `deals-create`: POST /deals.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("deals-create").await
}
