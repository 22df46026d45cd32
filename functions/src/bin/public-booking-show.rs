//! Lambda `public-booking-show`: GET /public/bookings/{uid}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("public-booking-show").await
}
