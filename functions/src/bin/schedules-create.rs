//! Lambda `schedules-create`: POST /schedules.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("schedules-create").await
}
