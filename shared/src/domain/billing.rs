//! Billing rules: plans and their limits, what a subscription's state
//! entitles an organization to (dunning included), and the verification of
//! Stripe's webhook signatures. Pure: the time is always a parameter.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Seconds a signed webhook stays acceptable either side of its timestamp
/// (Stripe's own default): a captured delivery cannot be replayed later.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// Days a paid plan stays in force after its first failed payment, while
/// Stripe retries the card and the owners fix it.
pub const DEFAULT_GRACE_DAYS: i64 = 7;

/// A plan's name. `Free` needs no subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanName {
    Free,
    Starter,
    Pro,
}

impl PlanName {
    pub const ALL: [PlanName; 3] = [PlanName::Free, PlanName::Starter, PlanName::Pro];
    pub const PAID: [PlanName; 2] = [PlanName::Starter, PlanName::Pro];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanName::Free => "free",
            PlanName::Starter => "starter",
            PlanName::Pro => "pro",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|plan| plan.as_str() == raw.trim())
    }

    /// The Stripe price `lookup_key` that sells a paid plan where no price
    /// id is configured (`konnecs_starter`, `konnecs_pro`): prices are then
    /// set up in Stripe alone, with no deployment setting.
    pub fn lookup_key(self) -> String {
        format!("konnecs_{}", self.as_str())
    }

    pub fn from_lookup_key(key: &str) -> Option<Self> {
        Self::PAID.into_iter().find(|plan| plan.lookup_key() == key)
    }
}

/// What a plan limits. Each limit is checked where the thing is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    Contacts,
    Members,
    EventTypes,
    SmsPerMonth,
    Workflows,
}

impl Limit {
    pub const ALL: [Limit; 5] = [
        Limit::Contacts,
        Limit::Members,
        Limit::EventTypes,
        Limit::SmsPerMonth,
        Limit::Workflows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Contacts => "contacts",
            Limit::Members => "members",
            Limit::EventTypes => "event_types",
            Limit::SmsPerMonth => "sms_per_month",
            Limit::Workflows => "workflows",
        }
    }

    /// For people: "contacts", "event types", ...
    pub fn label(self) -> &'static str {
        match self {
            Limit::Contacts => "contacts",
            Limit::Members => "members",
            Limit::EventTypes => "event types",
            Limit::SmsPerMonth => "SMS per month",
            Limit::Workflows => "workflows",
        }
    }
}

/// A plan's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub contacts: Option<u64>,
    pub members: Option<u64>,
    pub event_types: Option<u64>,
    pub sms_per_month: Option<u64>,
    pub workflows: Option<u64>,
}

impl PlanLimits {
    pub fn of(&self, limit: Limit) -> Option<u64> {
        match limit {
            Limit::Contacts => self.contacts,
            Limit::Members => self.members,
            Limit::EventTypes => self.event_types,
            Limit::SmsPerMonth => self.sms_per_month,
            Limit::Workflows => self.workflows,
        }
    }

    pub fn set(&mut self, limit: Limit, value: Option<u64>) {
        match limit {
            Limit::Contacts => self.contacts = value,
            Limit::Members => self.members = value,
            Limit::EventTypes => self.event_types = value,
            Limit::SmsPerMonth => self.sms_per_month = value,
            Limit::Workflows => self.workflows = value,
        }
    }
}

/// One plan: its limits and, for a paid plan, the Stripe price sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: PlanName,
    pub limits: PlanLimits,
    /// `price_…`; `None` for the free plan or a paid plan not on sale here.
    pub price_id: Option<String>,
}

/// Every plan, and how long a failed payment is tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans {
    pub plans: Vec<Plan>,
    pub grace_days: i64,
}

impl Default for Plans {
    fn default() -> Self {
        let limits = |contacts, members, event_types, sms_per_month, workflows| PlanLimits {
            contacts,
            members,
            event_types,
            sms_per_month,
            workflows,
        };
        Self {
            plans: vec![
                Plan {
                    name: PlanName::Free,
                    limits: limits(Some(250), Some(2), Some(1), Some(0), Some(1)),
                    price_id: None,
                },
                Plan {
                    name: PlanName::Starter,
                    limits: limits(Some(5_000), Some(5), Some(10), Some(500), Some(10)),
                    price_id: None,
                },
                Plan {
                    name: PlanName::Pro,
                    limits: limits(Some(50_000), Some(25), None, Some(5_000), None),
                    price_id: None,
                },
            ],
            grace_days: DEFAULT_GRACE_DAYS,
        }
    }
}

impl Plans {
    pub fn plan(&self, name: PlanName) -> &Plan {
        self.plans
            .iter()
            .find(|plan| plan.name == name)
            .unwrap_or_else(|| &self.plans[0])
    }

    pub fn plan_mut(&mut self, name: PlanName) -> Option<&mut Plan> {
        self.plans.iter_mut().find(|plan| plan.name == name)
    }

    /// The paid plan a Stripe price sells.
    pub fn by_price(&self, price_id: &str) -> Option<PlanName> {
        self.plans
            .iter()
            .find(|plan| plan.price_id.as_deref() == Some(price_id))
            .map(|plan| plan.name)
    }
}

/// A subscription's status as Stripe names it; anything new is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Canceled,
    Incomplete,
    IncompleteExpired,
    Paused,
    #[serde(other)]
    Other,
}

impl SubscriptionStatus {
    pub fn parse(raw: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(raw.to_string())).unwrap_or(SubscriptionStatus::Other)
    }
}

/// What an organization's subscription says, as far as entitlement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The plan paid for (`Free` without a subscription).
    pub plan: PlanName,
    pub status: Option<SubscriptionStatus>,
    /// Unix seconds of the first failed payment not yet followed by a paid invoice.
    pub payment_failed_at: Option<i64>,
}

/// Why the entitled plan is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entitlement {
    pub plan: PlanName,
    /// A payment failed and the grace period still runs until this time.
    pub grace_until: Option<i64>,
    /// The paid plan was lost to an unpaid balance past the grace period.
    pub downgraded: bool,
}

/// The plan whose limits apply at `now`. A paid plan holds while active or
/// trialing; after a failed payment it holds for the grace period, then the
/// organization falls to the free plan's limits (nothing is deleted, only
/// new things refused) until an invoice is paid.
pub fn entitlement(standing: &Standing, grace_days: i64, now: i64) -> Entitlement {
    use SubscriptionStatus::*;
    let free = |downgraded| Entitlement {
        plan: PlanName::Free,
        grace_until: None,
        downgraded,
    };
    if standing.plan == PlanName::Free {
        return free(false);
    }
    let in_good_standing = matches!(standing.status, Some(Active | Trialing | PastDue | Unpaid));
    if !in_good_standing {
        return free(false);
    }
    match standing.payment_failed_at {
        Some(failed_at) => {
            let until = failed_at.saturating_add(grace_days.saturating_mul(86_400));
            if now < until {
                Entitlement {
                    plan: standing.plan,
                    grace_until: Some(until),
                    downgraded: false,
                }
            } else {
                free(true)
            }
        }
        None if matches!(standing.status, Some(Unpaid)) => free(true),
        None => Entitlement {
            plan: standing.plan,
            grace_until: None,
            downgraded: false,
        },
    }
}

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or unreadable")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies a `Stripe-Signature` header (`t=<unix>,v1=<hex>[,v1=<hex>…]`)
/// over the raw body as received: HMAC-SHA256 of `{t}.{body}` keyed with the
/// endpoint's signing secret. Any `v1` may match (Stripe sends several while
/// a secret is rolled); each is compared in constant time (`verify_slice`).
/// The timestamp must be within [`SIGNATURE_TOLERANCE_SECONDS`] of `now`.
pub fn verify_signature(header: &str, body: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name {
            "t" => timestamp = Some(value),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let raw_timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    let signed_at: i64 = raw_timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`: the header's number is anyone's, and `now - i64::MIN`
    // would overflow (a panic in a debug build, a wrap that passed the
    // check in a release one).
    if now.abs_diff(signed_at) > SIGNATURE_TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(raw_timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let matched = signatures.iter().any(|signature| {
        hex::decode(signature)
            .map(|bytes| mac.clone().verify_slice(&bytes).is_ok())
            .unwrap_or(false)
    });
    if matched { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The header Stripe would send for `body` at `timestamp`: for tests and
/// sample events, signed exactly as [`verify_signature`] checks.
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        assert_eq!(
            verify_signature(&sign(body, SECRET, NOW), body, SECRET, NOW + 10),
            Ok(())
        );
    }

    #[test]
    fn any_v1_may_match() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(body, SECRET, NOW);
        let v1 = good.split_once(",v1=").map(|(_, sig)| sig).unwrap_or_default();
        let header = format!("t={NOW},v1={},v0=ignored,v1={v1}", "ab".repeat(32));
        assert_eq!(verify_signature(&header, body, SECRET, NOW), Ok(()));
    }

    #[test]
    fn tampering_a_wrong_secret_or_a_stale_time_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, SECRET, NOW);
        assert_eq!(
            verify_signature(&header, br#"{"id":"evt_2"}"#, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, body, "whsec_other", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, body, SECRET, NOW + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify_signature(&header, body, SECRET, NOW + 300), Ok(()));
        assert_eq!(
            verify_signature("v1=00", body, SECRET, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature("t=1", body, SECRET, NOW),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_timestamp_at_the_ends_of_the_integers_is_stale_not_a_panic() {
        let body = br#"{"id":"evt_1"}"#;
        for t in [i64::MIN, i64::MAX, -NOW] {
            let header = format!("t={t},v1=00");
            assert_eq!(
                verify_signature(&header, body, SECRET, NOW),
                Err(SignatureError::Stale),
                "{t}"
            );
        }
    }

    fn paid(status: SubscriptionStatus, failed: Option<i64>) -> Standing {
        Standing {
            plan: PlanName::Starter,
            status: Some(status),
            payment_failed_at: failed,
        }
    }

    #[test]
    fn a_failed_payment_keeps_the_plan_through_the_grace_period_then_falls_to_free() {
        let failed = NOW;
        let during = entitlement(&paid(SubscriptionStatus::PastDue, Some(failed)), 7, NOW + 86_400);
        assert_eq!(during.plan, PlanName::Starter);
        assert_eq!(during.grace_until, Some(failed + 7 * 86_400));
        let after = entitlement(&paid(SubscriptionStatus::PastDue, Some(failed)), 7, failed + 7 * 86_400);
        assert_eq!(after.plan, PlanName::Free);
        assert!(after.downgraded);
        assert_eq!(
            entitlement(&paid(SubscriptionStatus::Active, None), 7, NOW).plan,
            PlanName::Starter
        );
        assert_eq!(
            entitlement(&paid(SubscriptionStatus::Canceled, None), 7, NOW).plan,
            PlanName::Free
        );
    }
}
