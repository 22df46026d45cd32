//! Lambda `notes-create`: POST /contacts/{contactId}/notes.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("notes-create").await
}
