//! Lambda `page-event-type-create`: POST /app/event-types: the new-event-type form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-event-type-create").await
}
