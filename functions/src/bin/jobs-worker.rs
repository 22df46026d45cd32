//! Lambda `jobs-worker`: consumer of the jobs queue (SQS, partial batch failures).
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("jobs-worker").await
}
