//! Lambda `public-booking-reschedule`: POST /public/bookings/{uid}/reschedule.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-reschedule").await
}
