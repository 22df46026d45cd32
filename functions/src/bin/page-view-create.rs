//! Lambda `page-view-create`: POST /app/contacts/views: the save-view form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-view-create").await
}
