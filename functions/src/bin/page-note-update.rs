//! Lambda `page-note-update`: POST /app/contacts/{id}/notes/{note_id}: a note's edit form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-note-update").await
}
