//! Lambda `page-booking`: GET /booking/{uid}: the public manage page of a booking.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-booking").await
}
