//! Lambda `schedules-list`: GET /schedules.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("schedules-list").await
}
