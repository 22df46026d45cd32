//! Lambda `public-booking-slots`: GET /public/booking/{org_slug}/{event_slug}/slots.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-slots").await
}
