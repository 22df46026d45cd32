//! Physical clean-up of an embedded store. DynamoDB and SQS remove expired
//! items and old messages themselves, so only the local runtime has one.

use async_trait::async_trait;

use super::table::StoreError;

#[async_trait]
pub trait StoreSweeper: Send + Sync {
    /// Removes expired rows and long-finished queue messages; returns how many.
    async fn sweep(&self, now_unix: i64) -> Result<u64, StoreError>;
}
