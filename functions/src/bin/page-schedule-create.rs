//! Lambda `page-schedule-create`: POST /app/schedules: the new-schedule form's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-schedule-create").await
}
