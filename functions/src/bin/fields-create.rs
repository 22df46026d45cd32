//! Lambda `fields-create`: POST /fields.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("fields-create").await
}
