//! Lambda `public-booking-cancel`: POST /public/bookings/{uid}/cancel.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-cancel").await
}
