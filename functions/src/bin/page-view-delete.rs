//! Lambda `page-view-delete`: POST /app/contacts/views/{id}/delete: a saved view's delete button.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-view-delete").await
}
