//! Lambda `schedules-get`: GET /schedules/{id}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("schedules-get").await
}
