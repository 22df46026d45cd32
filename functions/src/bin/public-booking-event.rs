//! Lambda `public-booking-event`: GET /public/booking/{org_slug}/{event_slug}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-event").await
}
