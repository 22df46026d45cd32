//! Lambda `fields-delete`: DELETE /fields/{fieldId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("fields-delete").await
}
