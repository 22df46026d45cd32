//! Request budgets of the routes anyone may call: per client IP and per
//! target (a booking page, a manage link, an email address, a token), and on
//! the routes that take a secret, a separate budget of failed attempts.
//!
//! Each budget is a bucket of `per_minute` tokens refilled at the start of
//! every minute (failures: of every hour), counted with one atomic ADD on an
//! item keyed by the bucket and its window. One ADD, not a read then a
//! write: concurrent requests on both stores all count, with no conditional
//! write to retry. The window is in the partition key, so a bucket's writes
//! move to a fresh partition every minute, and a target's budget caps what
//! one key takes per second (see `MAX_TARGET_PER_MINUTE`). Targets and IPs are
//! hashed into the key: the table holds no email address or token in clear.

use serde_json::Value;

use crate::domain::token::token_hash;
use crate::ports::{Key, StoreError, Table, Update};

/// What names the target of a request, read by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The route has no target beyond the page itself (the same for everyone).
    None,
    /// These path parameters, joined (e.g. the organization and event slugs).
    Path(&'static [&'static str]),
    /// This query parameter.
    Query(&'static str),
    /// This field of a JSON or form-encoded body (an email, a token),
    /// trimmed and lowercased.
    Body(&'static str),
}

/// A budget of failed attempts (any 4xx but 429) per hour, on the routes
/// that take a secret: enough for a person mistyping, far too few to guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub per_ip_per_hour: i64,
    pub per_target_per_hour: i64,
}

/// The budgets of one family of routes (routes of one family share them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Names the buckets; routes doing the same thing on two surfaces (the
    /// JSON API and the HTML form) share a family and so a budget.
    pub family: &'static str,
    pub per_ip_per_minute: i64,
    pub target: Target,
    pub per_target_per_minute: i64,
    pub failures: Option<Failures>,
}

/// The most requests a target's bucket takes per minute: its item then sees
/// at most this many writes a minute (a few per second), far under one
/// DynamoDB partition's 1,000 writes per second.
pub const MAX_TARGET_PER_MINUTE: i64 = 3_000;

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused by the bucket `bucket`; the client may try again after
    /// this many seconds.
    Refused {
        retry_after_seconds: u64,
        bucket: Key,
    },
}

/// A stable, one-way name for an IP or a target inside a key (the shape
/// of the token hashes the table already keys by).
pub fn digest(value: &str) -> String {
    token_hash(value)
}

/// The per-minute request bucket of `scope` (`IP` or `T`) and its hashed
/// value, in the window `minute`.
pub fn request_key(family: &str, scope: &str, hashed: &str, minute: i64) -> Key {
    Key::new(format!("RATE#{family}#{scope}#{hashed}#MIN#{minute}"), "RATE")
}

/// The per-hour failure bucket of `scope` and its hashed value.
pub fn failure_key(family: &str, scope: &str, hashed: &str, hour: i64) -> Key {
    Key::new(format!("RATE#{family}#FAIL#{scope}#{hashed}#HOUR#{hour}"), "RATE")
}

/// Who is asking and about what, hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub ip: Option<String>,
    pub target: Option<String>,
}

impl Caller {
    pub fn new(ip: Option<&str>, target: Option<&str>) -> Self {
        Caller {
            ip: ip.map(digest),
            target: target.filter(|t| !t.is_empty()).map(digest),
        }
    }

    /// The caller's scopes (`IP`, `T`) with their hashed values.
    pub fn scopes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.ip
            .as_deref()
            .map(|ip| ("IP", ip))
            .into_iter()
            .chain(self.target.as_deref().map(|t| ("T", t)))
    }
}

async fn add(table: &dyn Table, key: &Key, field: &str, expires_at: i64) -> Result<i64, StoreError> {
    let item = table
        .update(key, Update::default().add(field, 1).set("expires_at", expires_at), None)
        .await?;
    Ok(item.get(field).and_then(Value::as_i64).unwrap_or(1))
}

fn seconds_left(window_end: i64, now: i64) -> u64 {
    u64::try_from(window_end - now).unwrap_or(1).max(1)
}

/// The buckets a request of `caller` draws on at `now`: its request
/// buckets, then (where the route counts them) its failure buckets.
pub fn buckets(throttle: &Throttle, caller: &Caller, now: i64) -> Vec<Key> {
    let (minute, hour) = (now.div_euclid(60), now.div_euclid(3600));
    let mut keys: Vec<Key> = caller
        .scopes()
        .map(|(scope, hashed)| request_key(throttle.family, scope, hashed, minute))
        .collect();
    if throttle.failures.is_some() {
        keys.extend(
            caller
                .scopes()
                .map(|(scope, hashed)| failure_key(throttle.family, scope, hashed, hour)),
        );
    }
    keys
}

/// Takes one token from the caller's IP and target buckets.
pub async fn take(table: &dyn Table, throttle: &Throttle, caller: &Caller, now: i64) -> Result<Verdict, StoreError> {
    let minute = now.div_euclid(60);
    let wait = seconds_left((minute + 1) * 60, now);
    for (scope, hashed) in caller.scopes() {
        let budget = if scope == "IP" {
            throttle.per_ip_per_minute
        } else {
            throttle.per_target_per_minute
        };
        let key = request_key(throttle.family, scope, hashed, minute);
        if add(table, &key, "hits", (minute + 2) * 60).await? > budget {
            return Ok(Verdict::Refused {
                retry_after_seconds: wait,
                bucket: key,
            });
        }
    }
    Ok(Verdict::Allowed)
}

/// Whether the caller's IP or target has spent its failures this hour.
pub async fn failures_spent(
    table: &dyn Table,
    throttle: &Throttle,
    failures: &Failures,
    caller: &Caller,
    now: i64,
) -> Result<Verdict, StoreError> {
    let hour = now.div_euclid(3600);
    let keys: Vec<(Key, i64)> = caller
        .scopes()
        .map(|(scope, hashed)| {
            let budget = if scope == "IP" {
                failures.per_ip_per_hour
            } else {
                failures.per_target_per_hour
            };
            (failure_key(throttle.family, scope, hashed, hour), budget)
        })
        .collect();
    if keys.is_empty() {
        return Ok(Verdict::Allowed);
    }
    let plain: Vec<Key> = keys.iter().map(|(key, _)| key.clone()).collect();
    let items = table.batch_get(&plain).await?;
    for item in items {
        let Some(key) = Key::of(&item) else { continue };
        let count = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
        if keys.iter().any(|(k, budget)| *k == key && count >= *budget) {
            return Ok(Verdict::Refused {
                retry_after_seconds: seconds_left((hour + 1) * 3600, now),
                bucket: key,
            });
        }
    }
    Ok(Verdict::Allowed)
}

/// Counts one failed attempt against the caller's IP and target.
pub async fn record_failure(
    table: &dyn Table,
    throttle: &Throttle,
    caller: &Caller,
    now: i64,
) -> Result<(), StoreError> {
    let hour = now.div_euclid(3600);
    for (scope, hashed) in caller.scopes() {
        add(
            table,
            &failure_key(throttle.family, scope, hashed, hour),
            "failures",
            (hour + 2) * 3600,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_no_address_or_token_in_clear() {
        let caller = Caller::new(Some("203.0.113.9"), Some("ada@example.com"));
        let key = request_key("sign-up", "T", caller.target.as_deref().unwrap_or_default(), 7);
        assert!(!key.pk.contains("ada@example.com"), "{}", key.pk);
        assert!(!key.pk.contains("203.0.113.9"));
        assert_eq!(caller.target.as_deref().map(str::len), Some(64));
        assert_ne!(caller.ip, caller.target);
    }

    #[test]
    fn an_empty_target_is_no_target() {
        assert_eq!(Caller::new(None, Some("")).target, None);
    }
}
