//! Lambda `exports-get`: GET /exports/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("exports-get").await
}
