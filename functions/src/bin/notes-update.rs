//! Lambda `notes-update`: PATCH /contacts/{contactId}/notes/{noteId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("notes-update").await
}
