//! Lambda `notes-delete`: DELETE /contacts/{contactId}/notes/{noteId}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("notes-delete").await
}
