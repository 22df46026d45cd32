//! Lambda `appointments-no-show`: POST /appointments/{id}/no-show.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("appointments-no-show").await
}
