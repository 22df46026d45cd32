//! Login throttling: an exponentially growing lockout per account (keyed by
//! the email as typed, so unknown emails behave exactly like known ones) and a
//! looser failure budget per client IP.

use serde_json::Value;

use crate::ports::{Key, StoreError, Table, Update};

/// Failures allowed before the first lockout.
pub const FREE_ATTEMPTS: i64 = 5;
/// The first lockout; each further failure doubles it, up to the cap.
pub const FIRST_LOCKOUT_SECONDS: i64 = 30;
pub const MAX_LOCKOUT_SECONDS: i64 = 3600;
/// Failures per IP per hour before that IP is refused for the rest of the hour.
pub const IP_FAILURES_PER_HOUR: i64 = 100;

fn account_key(email: &str) -> Key {
    Key::new(format!("THROTTLE#LOGIN#{email}"), "ACCOUNT")
}

fn ip_key(ip: &str, hour: i64) -> Key {
    Key::new(format!("THROTTLE#IP#{ip}"), format!("HOUR#{hour}"))
}

/// Lockout length after `failures` consecutive failures (0 while under the free budget).
pub fn lockout_seconds(failures: i64) -> i64 {
    if failures < FREE_ATTEMPTS {
        return 0;
    }
    let doublings = u32::try_from((failures - FREE_ATTEMPTS).min(20)).unwrap_or(20);
    FIRST_LOCKOUT_SECONDS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_LOCKOUT_SECONDS)
}

/// Seconds until this account or IP may try again, if it is locked now.
pub async fn locked_for(table: &dyn Table, email: &str, ip: Option<&str>, now: i64) -> Result<Option<i64>, StoreError> {
    if let Some(item) = table.get(&account_key(email)).await? {
        let until = item.get("locked_until").and_then(Value::as_i64).unwrap_or(0);
        if until > now {
            return Ok(Some(until - now));
        }
    }
    if let Some(ip) = ip {
        let hour = now.div_euclid(3600);
        if let Some(item) = table.get(&ip_key(ip, hour)).await? {
            let failures = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
            if failures >= IP_FAILURES_PER_HOUR {
                return Ok(Some((hour + 1) * 3600 - now));
            }
        }
    }
    Ok(None)
}

/// One counted failure: the account's consecutive failures so far and the
/// lockout it starts (0 while under the free budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub failures: i64,
    pub lockout_seconds: i64,
}

/// Counts one failure.
pub async fn record_failure(table: &dyn Table, email: &str, ip: Option<&str>, now: i64) -> Result<Failure, StoreError> {
    // Atomic ADD: concurrent failures all count.
    let item = table
        .update(
            &account_key(email),
            Update::default()
                .add("failures", 1)
                .set("expires_at", now + MAX_LOCKOUT_SECONDS * 24),
            None,
        )
        .await?;
    let failures = item.get("failures").and_then(Value::as_i64).unwrap_or(1);
    let lockout = lockout_seconds(failures);
    if lockout > 0 {
        table
            .update(
                &account_key(email),
                Update::default().set("locked_until", now + lockout),
                None,
            )
            .await?;
    }
    if let Some(ip) = ip {
        let hour = now.div_euclid(3600);
        table
            .update(
                &ip_key(ip, hour),
                Update::default()
                    .add("failures", 1)
                    .set("expires_at", (hour + 2) * 3600),
                None,
            )
            .await?;
    }
    Ok(Failure {
        failures,
        lockout_seconds: lockout,
    })
}

/// A successful login clears the account's failures.
pub async fn clear(table: &dyn Table, email: &str) -> Result<(), StoreError> {
    table.delete(&account_key(email), None).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_after_the_free_attempts_up_to_an_hour() {
        assert_eq!(lockout_seconds(4), 0);
        assert_eq!(lockout_seconds(5), 30);
        assert_eq!(lockout_seconds(6), 60);
        assert_eq!(lockout_seconds(7), 120);
        assert_eq!(lockout_seconds(12), 3600);
        assert_eq!(lockout_seconds(1_000), 3600);
    }
}
