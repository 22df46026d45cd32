//! Lambda `event-types-update`: PATCH /event-types/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("event-types-update").await
}
