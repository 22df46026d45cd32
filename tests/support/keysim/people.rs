//! Accounts and the staff's use of the app: sign-ups (`accounts::signup`),
//! sign-ins with throttling (`accounts::login`, `throttle`), and every
//! authenticated request's session reads (`inbound::http::session`:
//! session, membership, a touch every five minutes) with the request's own
//! reads (lists, search, a contact, appointments, the deals board, the
//! audit log). POSTs may carry an `Idempotency-Key`
//! (`inbound::http::idempotency`).

use http::Method;
use jiff::Timestamp;
use konnecs::config::AppConfig;
use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::UserId;
use konnecs::domain::ids::{ContactId, PipelineId};
use konnecs::inbound::http::idempotency::record_key;
use konnecs::ports::{Condition, Index, Item, Key, Update, WriteOp};
use konnecs::services::records::{
    TokenPurpose, email_key, member_key, org_key, slug_key, to_item, token_key, user_key, user_orgs_partition,
    user_sessions_partition,
};
use konnecs::services::scheduling::host_bookings_index;
use konnecs::services::{audit, contacts, pipelines, sessions, throttle};
use serde_json::json;

use super::meter::{Recorder, Retention};
use super::population::{self, OFFICE_HOURS, Org};
use super::rng::Rng;
use super::{Config, Sim};

/// Share of a member's requests that touch the session (one every five
/// minutes of activity).
const TOUCH_SHARE: f64 = 0.3;
/// Share of POSTs sent with an `Idempotency-Key` (API clients; the pages do not).
const IDEMPOTENT_SHARE: f64 = 0.3;

pub fn run(sim: &mut Sim) {
    let mut rng = sim.rng.fork(4);
    let office = population::profile_table(&OFFICE_HOURS);
    let config = &sim.config;
    let app = &sim.app;
    let rec = &mut sim.rec;
    let day0 = sim.day0;
    let table = population::org_table(&sim.orgs);
    for _ in 0..config.sign_ups_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let rel = org.utc_second(population::local_second(&mut rng, &office, &OFFICE_HOURS));
        sign_up(rec, app, day0, rel, &mut rng);
    }
    for org in &sim.orgs {
        for user in 0..org.users.len() {
            for _ in 0..rng.round(config.sign_ins_per_user) {
                let rel = org.utc_second(population::local_second(&mut rng, &office, &OFFICE_HOURS));
                sign_in(rec, (config, app), day0, org, user, rel, &mut rng);
            }
            for _ in 0..rng.round(config.requests_per_user) {
                let at = org.utc_second(population::local_second(&mut rng, &office, &OFFICE_HOURS)) as f64;
                request(rec, org, user, at, &mut rng);
                work(rec, org, user, at, &mut rng);
            }
        }
    }
}

fn instant(day0: Timestamp, rel: i64) -> Timestamp {
    Timestamp::from_second(day0.as_second() + rel).unwrap_or(day0)
}

fn session_hash(rng: &mut Rng) -> String {
    format!("{}{}", rng.id(), rng.id())
}

/// What every authenticated request reads first: the session (and, every
/// five minutes, its touch, which rewrites its index copy) and the membership.
pub fn request(rec: &mut Recorder, org: &Org, user: usize, at: f64, rng: &mut Rng) {
    let user_id = &org.users[user].id;
    let session = konnecs::services::records::session_key(&org.session_hash(user));
    rec.get(at, &session, 450);
    if rng.chance(TOUCH_SHARE) {
        let touch = WriteOp::Update {
            key: session,
            update: Update::default().set("last_seen_at", 0),
            condition: Some(Condition::Exists),
        };
        rec.write_indexed(
            at,
            &touch,
            450,
            &[(Index::Gsi1, user_sessions_partition(&UserId::from(user_id)))],
        );
    }
    rec.get(at, &member_key(&org.id, &UserId::from(user_id)), 400);
}

/// A POST's idempotency claim and kept answer (when the client sends a key).
pub fn idempotent_post(rec: &mut Recorder, at: f64, path: &str, rng: &mut Rng) {
    if !rng.chance(IDEMPOTENT_SHARE) {
        return;
    }
    let key = record_key(&rng.id(), &Method::POST, path, &rng.id());
    let claim = sized(&key, 150);
    rec.write(
        at,
        &WriteOp::Put {
            item: claim,
            condition: Some(Condition::NotExists),
        },
        0,
    );
    rec.write(
        at + 0.2,
        &WriteOp::Put {
            item: sized(&key, 2_000),
            condition: None,
        },
        0,
    );
}

/// An item of about `bytes` under `key`.
fn sized(key: &Key, bytes: usize) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key.pk.clone().into());
    item.insert("sk".into(), key.sk.clone().into());
    item.insert(
        "body".into(),
        "x".repeat(bytes.saturating_sub(key.pk.len() + key.sk.len() + 30))
            .into(),
    );
    item
}

/// A new session with its key drawn from the simulation's seed: the service
/// draws the token at random, which would make runs differ.
fn seeded(mut session: sessions::NewSession, rng: &mut Rng) -> sessions::NewSession {
    if let WriteOp::Put { item, .. } = &mut session.put {
        let key = konnecs::services::records::session_key(&session_hash(rng));
        item.insert("pk".into(), key.pk.into());
    }
    session
}

/// The request's own reads, from the mix of what staff do in the app.
fn work(rec: &mut Recorder, org: &Org, user: usize, at: f64, rng: &mut Rng) {
    match rng.weighted(&[0.25, 0.10, 0.20, 0.15, 0.10, 0.05, 0.05, 0.06, 0.04]) {
        // Contacts by name (`contacts::list`): the back-fill marker, a page
        // of the by-name items, then the page's contacts.
        7 => {
            rec.get(at, &contacts::order_backfill::marker_key(&org.id), 150);
            rec.query(
                at,
                Index::Primary,
                &contacts::contacts_by_name_partition(&org.id),
                50,
                120,
                50,
            );
            let keys: Vec<(Key, usize)> = (0..50)
                .map(|_| {
                    (
                        contacts::contact_key(&org.id, &ContactId::new(org.some_contact(rng))),
                        1_200,
                    )
                })
                .collect();
            rec.batch_get(at, &keys);
        }
        // Contacts by last update: the marker, one page of gsi3.
        8 => {
            rec.get(at, &contacts::order_backfill::marker_key(&org.id), 150);
            rec.query(
                at,
                Index::Gsi3,
                &contacts::contacts_by_update_partition(&org.id),
                50,
                1_200,
                50,
            );
        }
        // Contacts, newest first: one page of the creation index.
        0 => rec.query(
            at,
            Index::Gsi1,
            &contacts::contacts_index_partition(&org.id),
            50,
            1_200,
            50,
        ),
        // Search: a prefix of the search partition, then the page's contacts.
        1 => {
            rec.query(at, Index::Primary, &contacts::search_partition(&org.id), 20, 120, 20);
            let keys: Vec<(Key, usize)> = (0..20)
                .map(|_| {
                    (
                        contacts::contact_key(&org.id, &ContactId::new(org.some_contact(rng))),
                        1_200,
                    )
                })
                .collect();
            rec.batch_get(at, &keys);
        }
        // A contact and its timeline.
        2 => {
            let id = org.some_contact(rng);
            rec.get(at, &contacts::contact_key(&org.id, &ContactId::from(&id)), 1_200);
            rec.query(
                at,
                Index::Primary,
                &contacts::contact_partition(&org.id, &ContactId::from(&id)),
                20,
                300,
                100,
            );
        }
        // The member's appointments of a week.
        3 => {
            let host = &org.users[user % org.hosts.max(1)].id;
            let items = 40.min((org.bookings_per_day / org.hosts as f64 * 7.0).ceil() as usize);
            rec.query(
                at,
                Index::Gsi1,
                &host_bookings_index(&org.id, &UserId::from(host)),
                items,
                1_500,
                100,
            );
        }
        // The deals board (`pipelines::board`): the pipeline and its
        // statistics, then a page of 50 deals per stage.
        4 => {
            rec.batch_get(
                at,
                &[
                    (
                        pipelines::pipeline_key(&org.id, &PipelineId::from(&org.pipeline_id)),
                        1_500,
                    ),
                    (
                        pipelines::stats_key(&org.id, &PipelineId::from(&org.pipeline_id)),
                        1_000,
                    ),
                ],
            );
            let partition = pipelines::pipeline_deals_partition(&org.id, &PipelineId::from(&org.pipeline_id));
            let per_stage = (org.deals as usize / org.stage_ids.len()).min(50);
            for _ in &org.stage_ids {
                rec.query(at, Index::Gsi1, &partition, per_stage, 800, 50);
            }
        }
        // The audit log, newest first.
        5 => rec.query(at, Index::Primary, &audit::partition(&org.id), 50, 600, 50),
        // Tags with their counts.
        _ => {
            rec.query(at, Index::Primary, &contacts::tags_partition(&org.id), 10, 120, 100);
        }
    }
}

/// `accounts::login`: throttle reads, the email pointer and user, the last
/// organization's membership, then the session and audit entry in one
/// transaction; a failure instead counts on the account and the IP.
fn sign_in(
    rec: &mut Recorder,
    (config, app): (&Config, &AppConfig),
    day0: Timestamp,
    org: &Org,
    user: usize,
    rel: i64,
    rng: &mut Rng,
) {
    let at = rel as f64;
    let now = instant(day0, rel);
    let u = &org.users[user];
    // Offices share an address; a third of sign-ins come from elsewhere.
    let ip = if rng.chance(0.66) {
        format!("198.51.{}.{}", org.offset.rem_euclid(250), org.id.len() % 250)
    } else {
        format!("203.0.{}.{}", rng.below(256), rng.below(256))
    };
    let hour = rel.div_euclid(3600) + day0.as_second() / 3600;
    rec.get(at, &throttle::account_key(&u.email), 0);
    rec.get(at, &throttle::ip_key(&ip, hour), 0);
    rec.get(at, &email_key(&u.email), 200);
    rec.get(at, &user_key(&UserId::from(&u.id)), 700);
    if rng.chance(config.failed_sign_in_share) {
        let fail = |key: Key| WriteOp::Update {
            key,
            update: Update::default().add("failures", 1),
            condition: None,
        };
        rec.write(at, &fail(throttle::account_key(&u.email)), 200);
        rec.write(at, &fail(throttle::ip_key(&ip, hour)), 200);
        return;
    }
    rec.get(at, &member_key(&org.id, &UserId::from(&u.id)), 400);
    rec.write(
        at,
        &WriteOp::Delete {
            key: throttle::account_key(&u.email),
            condition: None,
        },
        200,
    );
    let session = seeded(
        sessions::new_session(app, &UserId::from(&u.id), &org.id, now.as_second()),
        rng,
    );
    let actor = audit::Actor {
        org_id: org.id.clone(),
        user_id: Some(UserId::from(u.id.clone())),
        request_id: rng.id(),
        ip: Some(ip),
        user_agent: Some("Mozilla/5.0 (Macintosh) Safari/605.1.15".into()),
    };
    let ops = vec![session.put, audit::entry(&actor, now, "auth.login", "user", json!({}))];
    rec.transact(at, &ops);
    for op in &ops {
        if let WriteOp::Put { item, .. } = op {
            let session_item = item.get("gsi1pk").is_some();
            let retention = if session_item {
                Retention::Once
            } else {
                Retention::Forever
            };
            rec.keep_item(item, retention, Retention::Days(7.0));
        }
    }
}

/// `accounts::signup`: the email, slug, user, organization, membership,
/// session, verification token and audit entry in one transaction.
fn sign_up(rec: &mut Recorder, app: &AppConfig, day0: Timestamp, rel: i64, rng: &mut Rng) {
    let at = rel as f64;
    let now = instant(day0, rel);
    let (user_id, org_id) = (rng.id(), rng.id());
    let email = format!("owner{}@new-business.example", rng.below(1 << 40));
    let slug = format!("new-business-{}", rng.below(1 << 30));
    rec.get(at, &email_key(&email), 0);
    rec.get(at, &slug_key(&slug), 0);
    let session = seeded(
        sessions::new_session(app, &UserId::from(&user_id), &OrgId::from(&org_id), now.as_second()),
        rng,
    );
    let member = to_item(
        &member_key(&OrgId::from(&org_id), &UserId::from(&user_id)),
        &json!({"org_id": org_id, "user_id": user_id, "role": "owner", "name": "Owner", "email": email}),
        &[
            ("gsi1pk", user_orgs_partition(&UserId::from(&user_id)).into()),
            ("gsi1sk", format!("ORG#{org_id}").into()),
        ],
    )
    .unwrap_or_default();
    let put = |item: Item| WriteOp::Put {
        item,
        condition: Some(Condition::NotExists),
    };
    let actor = audit::Actor {
        org_id: OrgId::from(org_id.clone()),
        user_id: Some(UserId::from(user_id.clone())),
        request_id: rng.id(),
        ..Default::default()
    };
    let ops = vec![
        put(to_item(&email_key(&email), &json!({"user_id": user_id}), &[]).unwrap_or_default()),
        put(to_item(&slug_key(&slug), &json!({"org_id": org_id}), &[]).unwrap_or_default()),
        put(to_item(
            &user_key(&UserId::from(&user_id)),
            &json!({"id": user_id, "email": email, "password_hash": "$argon2id$v=19$…"}),
            &[],
        )
        .unwrap_or_default()),
        put(to_item(
            &org_key(&OrgId::from(&org_id)),
            &json!({"id": org_id, "name": "New Business", "slug": slug}),
            &[],
        )
        .unwrap_or_default()),
        put(member),
        session.put,
        put(to_item(
            &token_key(&session_hash(rng), TokenPurpose::VerifyEmail),
            &json!({"user_id": user_id}),
            &[],
        )
        .unwrap_or_default()),
        audit::entry(&actor, now, "account.signup", "user", json!({})),
    ];
    rec.transact(at, &ops);
    for op in &ops {
        if let WriteOp::Put { item, .. } = op {
            rec.keep_item(item, Retention::Once, Retention::Forever);
        }
    }
}
