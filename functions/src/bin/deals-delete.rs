//! Lambda `deals-delete`: DELETE /deals/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("deals-delete").await
}
