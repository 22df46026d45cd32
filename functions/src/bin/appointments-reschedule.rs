//! Lambda `appointments-reschedule`: POST /appointments/{id}/reschedule.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-reschedule").await
}
