//! Lambda `event-types-delete`: DELETE /event-types/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("event-types-delete").await
}
