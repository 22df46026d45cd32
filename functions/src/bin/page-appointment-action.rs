//! Lambda `page-appointment-action`: POST /app/appointments/{id}: an appointment's action forms.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-appointment-action").await
}
