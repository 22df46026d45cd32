//! Lambda `schedules-delete`: DELETE /schedules/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("schedules-delete").await
}
