//! Lambda `imports-errors`: GET /imports/{id}/errors.csv.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("imports-errors").await
}
