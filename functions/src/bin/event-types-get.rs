//! Lambda `event-types-get`: GET /event-types/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("event-types-get").await
}
