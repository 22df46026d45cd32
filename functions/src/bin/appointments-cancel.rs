//! Lambda `appointments-cancel`: POST /appointments/{id}/cancel.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-cancel").await
}
