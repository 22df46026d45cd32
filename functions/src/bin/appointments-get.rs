//! Lambda `appointments-get`: GET /appointments/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-get").await
}
