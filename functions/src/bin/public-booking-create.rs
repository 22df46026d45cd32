//! Lambda `public-booking-create`: POST /public/booking/{org_slug}/{event_slug}/bookings.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-create").await
}
