//! Lambda `openapi`: GET /openapi.json.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("openapi").await
}
