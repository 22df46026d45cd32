//! Lambda `contacts-views-list`: GET /contacts/views: the caller's saved views.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("contacts-views-list").await
}
