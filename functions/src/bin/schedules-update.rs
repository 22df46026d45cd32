//! Lambda `schedules-update`: PATCH /schedules/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("schedules-update").await
}
