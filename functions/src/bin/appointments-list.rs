//! Lambda `appointments-list`: GET /appointments.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-list").await
}
