//! Lambda `page-note-create`: POST /app/contacts/{id}/notes: the note form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-note-create").await
}
