//! Lambda `appointments-decline`: POST /appointments/{id}/decline.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-decline").await
}
