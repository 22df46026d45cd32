//! The budgets of the routes anyone may call, as the catalogue declares them
//! (`catalogue::throttles`): for every family, its route answers 429
//! problem+json with `Retry-After` once an IP's or a target's budget is
//! spent, one IP's or target's refusal leaves the others alone, and the next
//! window opens again; the secret-taking routes also refuse an IP or a
//! target whose failed attempts this hour are spent. The budgets count with
//! atomic adds on both stores (concurrent requests on DynamoDB too).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use http::StatusCode;
use jiff::SignedDuration;
use konnecs::catalogue::throttles::{Limits, THROTTLES};
use konnecs::catalogue::{self, Method};
use konnecs::ports::counting::CountingTable;
use konnecs::services::rate_limit::{Target, Throttle};
use konnecs_tests::app::{Store, TestApp, problem};
use konnecs_tests::http::{Browser, Reply};
use serde_json::{Value, json};

/// The first route of each family the layer limits, with its budgets.
fn families() -> BTreeMap<&'static str, (&'static str, Throttle)> {
    let mut families = BTreeMap::new();
    for (name, limits) in THROTTLES {
        if let Limits::Layer(throttle) = limits {
            families.entry(throttle.family).or_insert((*name, *throttle));
        }
    }
    families
}

fn from(ip: &str) -> Browser {
    Browser {
        ip: Some(ip.to_string()),
        ..Browser::anonymous()
    }
}

/// The n-th of many distinct client addresses.
fn ip(n: usize) -> String {
    format!("198.51.{}.{}", n / 250, n % 250 + 1)
}

/// A request to the route `name` about `target` from `ip`.
async fn call(app: &TestApp, name: &str, throttle: &Throttle, target: &str, ip: &str) -> Reply {
    let entry = catalogue::entries()
        .iter()
        .find(|entry| entry.name == name)
        .expect("catalogue entry");
    let (method, path) = entry.http().expect("an HTTP route");
    let mut uri = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).expect("closed parameter");
        let param = &rest[open + 1..close];
        uri.push_str(&rest[..open]);
        let first_target = matches!(throttle.target, Target::Path(names) if names.first() == Some(&param));
        uri.push_str(if first_target { target } else { "fixed" });
        rest = &rest[close + 1..];
    }
    uri.push_str(rest);
    if let Target::Query(name) = throttle.target {
        uri.push_str(&format!("?{name}={target}"));
    }
    let body = match throttle.target {
        Target::Body(field) => Some(json!({ field: target })),
        _ if method == Method::Get => None,
        _ => Some(json!({})),
    };
    from(ip).send(&app.router, method.as_str(), &uri, body.as_ref()).await
}

fn assert_refused(reply: &Reply, what: &str, at_most: u64) {
    problem(reply, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: 429 without a Retry-After in seconds"));
    assert!((1..=at_most).contains(&retry), "{what}: Retry-After {retry}");
}

fn assert_let_through(reply: &Reply, what: &str) {
    assert!(
        reply.status != StatusCode::TOO_MANY_REQUESTS && !reply.status.is_server_error(),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
}

/// How many requests that all fail (unknown slugs, tokens, uids) pass
/// before a budget of `requests` a minute, or of `failures` an hour, refuses.
fn allowed(requests: i64, failures: Option<i64>) -> usize {
    usize::try_from(failures.map_or(requests, |f| f.min(requests))).unwrap_or(0)
}

#[tokio::test]
async fn every_family_refuses_an_ip_past_its_budget_and_only_that_ip() {
    let app = TestApp::new();
    let window_left = 60 - u64::try_from(app.now().as_second().rem_euclid(60)).unwrap_or(0);
    for (family, (name, throttle)) in families() {
        let failures = throttle.failures.map(|f| f.per_ip_per_hour);
        let budget = allowed(throttle.per_ip_per_minute, failures);
        // Spent failures wait for the hour's end, spent requests for the minute's.
        let wait = if failures.is_some_and(|f| f < throttle.per_ip_per_minute) {
            3600
        } else {
            window_left
        };
        let attacker = format!("203.0.113.{}", family.len());
        // A new target each time, so only the IP's budget runs out.
        for n in 0..budget {
            let reply = call(&app, name, &throttle, &format!("{family}-ip-{n}"), &attacker).await;
            assert_let_through(&reply, &format!("{family} request {n}"));
        }
        let refused = call(&app, name, &throttle, &format!("{family}-ip-last"), &attacker).await;
        assert_refused(&refused, family, wait);
        let other = call(&app, name, &throttle, &format!("{family}-ip-other"), "192.0.2.77").await;
        assert_let_through(&other, &format!("{family} from another IP"));
    }
}

#[tokio::test]
async fn every_family_with_a_target_refuses_that_target_past_its_budget_and_only_it() {
    let app = TestApp::new();
    let mut ips = 0;
    for (family, (name, throttle)) in families() {
        if throttle.target == Target::None {
            continue;
        }
        let mut budget = allowed(
            throttle.per_target_per_minute,
            throttle.failures.map(|f| f.per_target_per_hour),
        );
        if family == "sign-in" {
            // Wrong sign-ins also lock the account out, sooner.
            budget = budget.min(usize::try_from(konnecs::services::throttle::FREE_ATTEMPTS).unwrap_or(0));
        }
        let target = format!("{family}-target");
        // A new IP each time, so only the target's budget runs out.
        for n in 0..budget {
            ips += 1;
            let reply = call(&app, name, &throttle, &target, &ip(ips)).await;
            assert_let_through(&reply, &format!("{family} request {n} on one target"));
        }
        ips += 1;
        let refused = call(&app, name, &throttle, &target, &ip(ips)).await;
        assert_refused(&refused, family, 3600);
        ips += 1;
        let other = call(&app, name, &throttle, &format!("{family}-other"), &ip(ips)).await;
        assert_let_through(&other, &format!("{family} on another target"));
    }
}

#[tokio::test]
async fn a_spent_request_budget_opens_again_the_next_minute() {
    let app = TestApp::new();
    for (family, (name, throttle)) in families() {
        if throttle.failures.is_some() {
            continue;
        }
        let attacker = format!("203.0.113.{}", family.len() + 100);
        let mut n = 0;
        let refused = loop {
            let reply = call(&app, name, &throttle, &format!("{family}-reset-{n}"), &attacker).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                break reply;
            }
            n += 1;
            assert!(n <= 10_000, "{family} never refused");
        };
        let wait: i64 = refused.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        app.advance(SignedDuration::from_secs(wait));
        let again = call(&app, name, &throttle, &format!("{family}-reset-after"), &attacker).await;
        assert_let_through(&again, &format!("{family} after Retry-After"));
        // Back to the start of a minute, so the next family has a whole one.
        app.advance(SignedDuration::from_secs(60));
    }
}

/// `POST /auth/password/reset` with unknown tokens: the IP's failures are
/// spent for the rest of the hour even in a fresh minute, another IP is
/// not, and the next hour opens again.
#[tokio::test]
async fn failed_secrets_are_refused_for_the_rest_of_the_hour() {
    let app = TestApp::at("2026-03-02T08:00:00Z");
    let (name, throttle) = families()["password-reset"];
    let failures = throttle.failures.expect("a failure budget");
    let attacker = "203.0.113.50";
    for n in 0..failures.per_ip_per_hour {
        if n > 0 && n % 10 == 0 {
            app.advance(SignedDuration::from_secs(60));
        }
        let reply = call(&app, name, &throttle, &format!("guess-{n}"), attacker).await;
        assert!(reply.status.is_client_error() && reply.status != StatusCode::TOO_MANY_REQUESTS);
    }
    app.advance(SignedDuration::from_secs(60));
    let refused = call(&app, name, &throttle, "guess-next", attacker).await;
    // 08:03 now: the failure budget waits for 09:00, past any minute window.
    assert_refused(&refused, "spent failures", 3600);
    assert_eq!(refused.headers["retry-after"], "3420");
    assert_let_through(
        &call(&app, name, &throttle, "guess-elsewhere", "192.0.2.8").await,
        "another IP",
    );
    app.set_clock("2026-03-02T09:00:00Z");
    assert_let_through(
        &call(&app, name, &throttle, "guess-later", attacker).await,
        "the next hour",
    );
}

/// A manage link: wrong tokens count against the booking's uid whatever
/// the IP, so spreading guesses over addresses does not help; another
/// booking is untouched.
#[tokio::test]
async fn a_manage_link_is_not_guessable_online() {
    let app = TestApp::at("2026-03-02T08:00:00Z");
    let (name, throttle) = families()["manage-booking"];
    let failures = throttle.failures.expect("a failure budget");
    let uid = "0192f1a0-0000-7000-8000-000000000001";
    for n in 0..failures.per_target_per_hour {
        let reply = from(&ip(n as usize))
            .send(
                &app.router,
                "GET",
                &format!("/public/bookings/{uid}?token=guess{n}"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    }
    let refused = call(&app, name, &throttle, uid, "192.0.2.200").await;
    assert_refused(&refused, "a booking's spent failures", 3600);
    let other = call(
        &app,
        name,
        &throttle,
        "0192f1a0-0000-7000-8000-000000000002",
        "192.0.2.200",
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another booking is untouched");
}

async fn concurrent_sign_ups_count_exactly(store: Store) {
    let app = TestApp::on(store, "2026-03-02T08:00:00Z").await;
    let (name, throttle) = families()["sign-up"];
    let budget = usize::try_from(throttle.per_target_per_minute).unwrap_or(0);
    let ips: Vec<String> = (0..budget + 7).map(|n| format!("198.18.0.{}", n + 1)).collect();
    let replies = join_all(ips.iter().map(|ip| call(&app, name, &throttle, "same@example.com", ip))).await;
    let refused = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 7, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|reply| !reply.status.is_server_error()));
}

#[tokio::test]
async fn concurrent_requests_spend_a_budget_exactly_on_the_embedded_store() {
    concurrent_sign_ups_count_exactly(Store::Sqlite).await;
}

#[tokio::test]
async fn concurrent_requests_spend_a_budget_exactly_on_dynamodb() {
    concurrent_sign_ups_count_exactly(Store::Dynamodb).await;
}

/// A body the route cannot read is still the client's error (4xx), with or
/// without a budget left.
#[tokio::test]
async fn a_limited_route_answers_bad_input_as_a_client_error() {
    let app = TestApp::new();
    let request = http::Request::builder()
        .method("POST")
        .uri("/auth/signup")
        .header("content-type", "application/json")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [192, 0, 2, 9],
            1,
        ))))
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let reply = app.request(request).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    let value: Value = reply.body;
    assert!(value["code"].is_string(), "{value}");
}

/// A client that goes on after its refusal is answered from memory: its
/// spent bucket takes no more writes, so a flood cannot make it a hot key.
#[tokio::test]
async fn a_refused_client_costs_the_store_nothing_until_its_window_opens() {
    let mut app = TestApp::new();
    let mut state = app.state.clone();
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    state.table = counting;
    app.replace_state(state);
    let (name, throttle) = families()["health"];
    let attacker = "203.0.113.77";
    let mut n = 0;
    while call(&app, name, &throttle, "", attacker).await.status != StatusCode::TOO_MANY_REQUESTS {
        n += 1;
        assert!(n <= 1_000, "never refused");
    }
    let before = counts.snapshot();
    for _ in 0..50 {
        let reply = call(&app, name, &throttle, "", attacker).await;
        assert_refused(&reply, "a refused client again", 60);
    }
    assert_eq!(
        counts.snapshot().total(),
        before.total(),
        "store calls after the refusal"
    );
    // Another client is counted (and served) as before.
    assert_let_through(&call(&app, name, &throttle, "", "192.0.2.1").await, "another IP");
    assert!(counts.snapshot().total() > before.total());
}
