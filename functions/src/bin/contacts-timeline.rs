//! Lambda `contacts-timeline`: GET /contacts/{contactId}/timeline.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-timeline").await
}
