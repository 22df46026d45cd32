//! Lambda `reminders-send`: consumer of the reminders queue (SQS, partial batch failures).
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("reminders-send").await
}
