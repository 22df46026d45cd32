//! Lambda `event-types-create`: POST /event-types.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("event-types-create").await
}
