//! Lambda `contacts-views-delete`: DELETE /contacts/views/{id}: deletes a saved view.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-views-delete").await
}
