//! Lambda `deals-get`: GET /deals/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("deals-get").await
}
