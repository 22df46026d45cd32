//! Lambda `bulk-worker`: consumer of the bulk queue (SQS, partial batch failures).
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    // Picked while compiling (never looked up at run time), so the binary
    // links this entry's handler and none of the others.
    const ENTRY: konnecs::catalogue::Entry = konnecs::catalogue::entry(env!("CARGO_BIN_NAME"));
    konnecs::lambda::run(ENTRY).await
}
