//! Lambda `page-note-delete`: POST /app/contacts/{id}/notes/{note_id}/delete: a note's delete button.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-note-delete").await
}
