//! Lambda `fields-update`: PATCH /fields/{fieldId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("fields-update").await
}
