//! Lambda `deals-update`: PATCH /deals/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("deals-update").await
}
