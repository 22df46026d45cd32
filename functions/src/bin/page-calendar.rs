//! Lambda `page-calendar`: GET /app/calendar: the calendar.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-calendar").await
}
