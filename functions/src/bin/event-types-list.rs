//! Lambda `event-types-list`: GET /event-types.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("event-types-list").await
}
