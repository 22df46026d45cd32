//! Lambda `reminders-tick`: schedule (EventBridge, every minute): fans due reminders out to the reminders queue.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("reminders-tick").await
}
