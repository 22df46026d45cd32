//! Lambda `appointments-confirm`: POST /appointments/{id}/confirm.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-confirm").await
}
