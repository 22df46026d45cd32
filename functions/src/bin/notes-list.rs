//! Lambda `notes-list`: GET /contacts/{contactId}/notes.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("notes-list").await
}
