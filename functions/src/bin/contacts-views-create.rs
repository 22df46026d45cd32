//! Lambda `contacts-views-create`: POST /contacts/views: saves a view.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-views-create").await
}
