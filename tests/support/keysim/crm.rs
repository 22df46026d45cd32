//! The CRM's own writes: contacts created one by one (`contacts::create`)
//! and edited (`contacts::update`, which moves the contact's place in the
//! last-update index and, for a rename, its by-name item),
//! CSV imports (`imports::process`: groups of rows, chunk transactions of
//! about nine contacts with the tag counters and the checkpoint, paced by
//! `imports::paced_seconds` on the organization's pace item as on DynamoDB),
//! exports
//! (`exports::job`: pages of the contacts' creation index), deals
//! (`pipelines`) and notes (`contacts::notes`). Every request of a member
//! also pays the session's reads ([`super::people::request`]).

use konnecs::domain::ids::UserId;
use konnecs::domain::ids::{ContactId, DealId, PipelineId};
use std::collections::BTreeMap;

use super::bookings::BILLING_BYTES;
use jiff::Timestamp;
use konnecs::adapters::aws::dynamodb::PARTITION_WRITE_UNITS;
use konnecs::ports::{Condition, Index, Item, Key, Update, WriteOp};
use konnecs::services::billing::{billing_key, usage};
use konnecs::services::contacts::{self, ALL_PARTS};
use konnecs::services::exports::job::export_key;
use konnecs::services::imports::{errors_partition, import_key, pace_key, paced_seconds};
use konnecs::services::pipelines::{DealRecord, DealStatus, deal_item, stats_ops};
use konnecs::services::records::{member_key, org_key, to_item};
use konnecs::services::{audit, contacts::notes};
use serde_json::json;

use super::entities::{self, Person};
use super::meter::{Recorder, Retention};
use super::people::{self, idempotent_post};
use super::population::{self, OFFICE_HOURS, Org, org_table};
use super::rng::Rng;
use super::{Config, Sim};

/// Rows of one import chunk transaction (≤ 100 operations: ≈ 10 per contact).
pub const CHUNK_ROWS: usize = 9;
/// Rows whose claims one group reads before planning (`imports::GROUP_ROWS`).
const GROUP_ROWS: usize = 1_000;
/// Seconds per page of an export's index query and its part upload.
const EXPORT_PAGE_SECONDS: f64 = 0.05;
const CONTACT_BYTES: usize = 1_200;

pub fn run(sim: &mut Sim) {
    let mut rng = sim.rng.fork(3);
    let table = org_table(&sim.orgs);
    let office = population::profile_table(&OFFICE_HOURS);
    let config = &sim.config;
    let rec = &mut sim.rec;
    let day0 = sim.day0;
    let at_local = |rng: &mut Rng, org: &Org| org.utc_second(population::local_second(rng, &office, &OFFICE_HOURS));
    for _ in 0..config.contacts_created_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let at = at_local(&mut rng, org);
        create_contact(rec, config, day0, org, at, &mut rng);
    }
    // Imports by organization: those of one organization share its pace.
    let mut starts: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for _ in 0..config.imports_per_day {
        let org = table.draw(&mut rng);
        let at = at_local(&mut rng, &sim.orgs[org]);
        starts.entry(org).or_default().push(at);
    }
    for (org, mut at) in starts {
        at.sort_unstable();
        imports(rec, config, day0, &sim.orgs[org], &at, &mut rng);
    }
    for _ in 0..config.exports_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let at = at_local(&mut rng, org);
        export(rec, org, at as f64, &mut rng);
    }
    for _ in 0..config.deals_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let at = at_local(&mut rng, org);
        deal(rec, day0, org, at, &mut rng);
    }
    for _ in 0..config.contact_edits_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let at = at_local(&mut rng, org);
        edit_contact(rec, config, day0, org, at, &mut rng);
    }
    for n in 0..config.order_backfills_per_day {
        let org = if n == 0 { 0 } else { table.draw(&mut rng) };
        let org = &sim.orgs[org];
        let at = at_local(&mut rng, org);
        order_backfill(rec, config, day0, org, at as f64, &mut rng);
    }
    for _ in 0..config.notes_per_day {
        let org = &sim.orgs[table.draw(&mut rng)];
        let at = at_local(&mut rng, org);
        note(rec, day0, org, at, &mut rng);
    }
}

fn instant(day0: Timestamp, rel: i64) -> Timestamp {
    Timestamp::from_second(day0.as_second() + rel).unwrap_or(day0)
}

fn member(org: &Org, rng: &mut Rng) -> usize {
    rng.below(org.users.len() as u64) as usize
}

fn actor(org: &Org, user: usize, rng: &mut Rng) -> audit::Actor {
    audit::Actor {
        org_id: org.id.clone(),
        user_id: Some(UserId::from(org.users[user].id.clone())),
        request_id: rng.id(),
        ip: Some("198.51.100.24".into()),
        user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0".into()),
    }
}

const TAGS: [&str; 4] = ["lead", "vip", "newsletter", "partner"];

/// `contacts::create`: the session's reads, the org (phones) and the owner's
/// membership, then ONE transaction (contact, claims, search keys, tag
/// index and counter, audit entry).
fn create_contact(rec: &mut Recorder, config: &Config, day0: Timestamp, org: &Org, rel: i64, rng: &mut Rng) {
    let at = rel as f64;
    let user = member(org, rng);
    people::request(rec, org, user, at, rng);
    idempotent_post(rec, at, "/contacts", rng);
    let who: Person = entities::person(rng, config.phone_share);
    if who.phone.is_some() {
        rec.get(at, &org_key(&org.id), 600);
    }
    let owner = rng.chance(0.5).then(|| org.users[user].id.clone());
    if let Some(owner) = &owner {
        rec.get(at, &member_key(&org.id, &UserId::from(owner)), 400);
    }
    let tags = if rng.chance(0.4) {
        vec![TAGS[rng.below(TAGS.len() as u64) as usize].to_string()]
    } else {
        Vec::new()
    };
    let record = entities::contact(org, rng.id(), &who, instant(day0, rel), tags, owner, false);
    // The plan's contact limit: the billing record and the contact counter.
    rec.get(at, &billing_key(&org.id), BILLING_BYTES);
    rec.get(at, &usage::contacts_counter_key(&org.id), 200);
    let mut ops = contacts::plan(&[(None, Some(&record))], ALL_PARTS).unwrap_or_default();
    ops.push(audit::entry(
        &actor(org, user, rng),
        instant(day0, rel),
        "contact.create",
        "contact",
        json!({}),
    ));
    rec.transact(at, &ops);
    // Announced once committed: one query of the organization's webhook
    // endpoints (none in the simulation, so it returns nothing).
    let probe = konnecs::services::webhooks::endpoint_key(&org.id, &konnecs::domain::ids::WebhookEndpointId::new(""));
    rec.query(at + 1.0, konnecs::ports::Index::Primary, &probe.pk, 0, 700, 40);
    keep_contact_ops(rec, &ops);
}

/// `contacts::update`: the session's reads, the contact, then ONE
/// transaction: the contact put anew (its index copies, the last-update one
/// at its new place), a rename's by-name item moved and search keys
/// changed, and the audit entry.
fn edit_contact(rec: &mut Recorder, config: &Config, day0: Timestamp, org: &Org, rel: i64, rng: &mut Rng) {
    let at = rel as f64;
    let user = member(org, rng);
    people::request(rec, org, user, at, rng);
    let id = org.some_contact(rng);
    let who: Person = entities::person(rng, config.phone_share);
    let created = instant(day0, rel - 86_400 * (1 + rng.below(300) as i64));
    let before = entities::contact(org, id, &who, created, Vec::new(), None, false);
    rec.get(at, &contacts::contact_key(&org.id, &before.id), CONTACT_BYTES);
    let mut after = before.clone();
    after.updated_at = instant(day0, rel).to_string();
    after.version += 1;
    if rng.chance(0.1) {
        after.first_name = Some(entities::person(rng, config.phone_share).first);
    } else {
        after.company = Some("Harbour Physio Ltd".into());
    }
    let mut ops = contacts::plan(&[(Some(&before), Some(&after))], ALL_PARTS).unwrap_or_default();
    ops.push(audit::entry(
        &actor(org, user, rng),
        instant(day0, rel),
        "contact.updated",
        "contact",
        json!({}),
    ));
    rec.transact(at, &ops);
}

/// `contacts::order_backfill` of an organization all of whose contacts
/// lack their sort keys: the marker claimed, then per page of the creation
/// index the page and its contacts' by-name keys read, and transactions of
/// [`order_backfill::PER_TRANSACTION`] contacts, each after reserving its
/// `order_backfill::pace_of` on the organization's import pace; the update
/// of a contact rewrites its index copies (gsi1, gsi3).
fn order_backfill(rec: &mut Recorder, config: &Config, day0: Timestamp, org: &Org, at: f64, rng: &mut Rng) {
    use konnecs::services::contacts::order_backfill::{self, PAGE, PER_TRANSACTION};
    let marker = order_backfill::marker_key(&org.id);
    let marker_item = entities::sized(&marker, &[("state", "running"), ("cursor", "eyJwayI6Ik9SRyM…")]);
    rec.get(at, &marker, 150);
    rec.write(
        at,
        &WriteOp::Put {
            item: marker_item.clone(),
            condition: Some(Condition::NotExists),
        },
        0,
    );
    let pace = pace_key(&org.id);
    let pace_item = entities::sized(&pace, &[("next_at_ms", "1791883800000"), ("expires_at", "1791887400")]);
    let index = contacts::contacts_index_partition(&org.id);
    let by_update = contacts::contacts_by_update_partition(&org.id);
    let created = instant(day0, -86_400 * 30);
    let (mut t, mut free_at) = (at + 1.0, f64::MIN);
    let mut left = org.contacts as usize;
    while left > 0 {
        let page = left.min(PAGE as usize);
        left -= page;
        rec.query(t, Index::Gsi1, &index, page, CONTACT_BYTES, PAGE as usize);
        let records: Vec<_> = (0..page)
            .map(|_| {
                let who = entities::person(rng, config.phone_share);
                entities::contact(org, rng.id(), &who, created, Vec::new(), None, false)
            })
            .collect();
        let names: Vec<(Key, usize)> = records
            .iter()
            .map(|r| {
                let item = &order_backfill::ops_of(r).unwrap_or_default()[1];
                (item.key().unwrap_or_else(|| Key::new("", "")), 0)
            })
            .collect();
        rec.batch_get(t, &names);
        for group in records.chunks(PER_TRANSACTION) {
            let refs: Vec<&_> = group.iter().collect();
            let seconds = order_backfill::pace_of(&refs, PARTITION_WRITE_UNITS).unwrap_or(0.0);
            rec.get(t, &pace, 100);
            rec.write(
                t,
                &WriteOp::Put {
                    item: pace_item.clone(),
                    condition: None,
                },
                0,
            );
            let start = t.max(free_at);
            free_at = start + seconds;
            let ops: Vec<WriteOp> = group
                .iter()
                .flat_map(|r| order_backfill::ops_of(r).unwrap_or_default())
                .collect();
            rec.transact(start, &ops);
            for _ in group {
                let milli = (CONTACT_BYTES.div_ceil(1024) as u64) * 1000;
                rec.write_units(start, Index::Gsi1, &index, milli);
                rec.write_units(start, Index::Gsi3, &by_update, milli);
            }
            // Once: the back-fill runs once; its items are the contacts' own.
            for op in &ops {
                if let WriteOp::Put { item, .. } = op {
                    rec.keep_item(item, Retention::Once, Retention::Once);
                }
            }
            t = start + config.transaction_seconds;
        }
        rec.write(
            t,
            &WriteOp::Put {
                item: marker_item.clone(),
                condition: None,
            },
            0,
        );
    }
}

/// Item collections of a contact write: the contact's own partitions hold
/// one entity; the organization's indexes grow.
fn keep_contact_ops(rec: &mut Recorder, ops: &[WriteOp]) {
    for op in ops {
        let WriteOp::Put { item, .. } = op else { continue };
        let pk = item.get("pk").and_then(|v| v.as_str()).unwrap_or_default();
        let own = pk.contains("#CONTACT#") || pk.contains("#CEMAIL#") || pk.contains("#CPHONE#");
        let table = if own { Retention::Once } else { Retention::Forever };
        rec.keep_item(item, table, Retention::Forever);
    }
}

fn log_uniform(rng: &mut Rng, (low, high): (u64, u64)) -> u64 {
    let (low, high) = ((low.max(1)) as f64, (high.max(low)) as f64);
    (low * (high / low).powf(rng.unit())).round() as u64
}

/// One import in progress.
struct Import {
    id: String,
    tag: String,
    rows: usize,
    done: usize,
    /// When its next chunk can be reserved (its last transaction returned).
    ready: f64,
    slice_ends: f64,
    /// Rows of the current group not yet written.
    pending: Vec<Person>,
}

/// `imports::process` on DynamoDB, for all imports of one organization of
/// the day (started at `starts`): a slice reads the import, the org and the
/// field definitions; each group of rows reads its claims (100 keys a
/// call); each chunk of [`CHUNK_ROWS`] rows reserves its `paced_seconds` on
/// the organization's pace item (a get and a conditional put), waits for
/// its turn, then writes one transaction with the import's tag counter and
/// checkpoint. Imports running at once take turns.
fn imports(rec: &mut Recorder, config: &Config, day0: Timestamp, org: &Org, starts: &[i64], rng: &mut Rng) {
    let mut running: Vec<Import> = Vec::new();
    for &rel in starts {
        let import = Import {
            id: rng.id(),
            tag: format!("import-{}", rng.below(1000)),
            rows: log_uniform(rng, config.import_rows) as usize,
            done: 0,
            ready: rel as f64 + 1.0,
            slice_ends: rel as f64 + 1.0,
            pending: Vec::new(),
        };
        let user = member(org, rng);
        let at = rel as f64;
        people::request(rec, org, user, at, rng);
        let record = entities::sized(
            &import_key(&org.id, &import.id),
            &[("state", "queued"), ("mapping", "…")],
        );
        rec.write(
            at,
            &WriteOp::Put {
                item: record.clone(),
                condition: Some(Condition::NotExists),
            },
            0,
        );
        rec.keep_item(&record, Retention::Forever, Retention::Forever);
        running.push(import);
    }
    let pace = pace_key(&org.id);
    let pace_item = entities::sized(&pace, &[("next_at_ms", "1791883800000"), ("expires_at", "1791887400")]);
    let mut free_at = f64::MIN;
    while let Some(i) = (0..running.len())
        .filter(|i| running[*i].done < running[*i].rows)
        .min_by(|a, b| running[*a].ready.total_cmp(&running[*b].ready).then(a.cmp(b)))
    {
        let import = &mut running[i];
        let t = import.ready;
        // A job delivery works for a slice of 8 s, then hands over.
        if t >= import.slice_ends {
            import.slice_ends = t + 8.0;
            rec.get(t, &import_key(&org.id, &import.id), 1_000);
            rec.get(t, &org_key(&org.id), 600);
            rec.query(
                t,
                Index::Primary,
                &contacts::fields::fields_partition(&org.id),
                3,
                300,
                100,
            );
        }
        if import.pending.is_empty() {
            let group = (import.rows - import.done).min(GROUP_ROWS);
            import.pending = (0..group).map(|_| entities::person(rng, config.phone_share)).collect();
            let claims: Vec<(Key, usize)> = import
                .pending
                .iter()
                .flat_map(|who| {
                    let phone = who
                        .phone
                        .as_ref()
                        .map(|(e164, _)| contacts::phone_unique_key(&org.id, e164));
                    std::iter::once(contacts::email_unique_key(&org.id, &who.email)).chain(phone)
                })
                .map(|key| (key, 0))
                .collect();
            rec.batch_get(t, &claims);
            // The plan's contact limit, once a group.
            rec.get(t, &billing_key(&org.id), BILLING_BYTES);
            rec.get(t, &usage::contacts_counter_key(&org.id), 200);
        }
        let chunk: Vec<Person> = import.pending.drain(..CHUNK_ROWS.min(import.pending.len())).collect();
        let now = instant(day0, t as i64);
        let mut ops = Vec::new();
        for who in &chunk {
            let mut record = entities::contact(org, rng.id(), who, now, vec![import.tag.clone()], None, false);
            record.source = Some("import".into());
            let planned = contacts::plan(&[(None, Some(&record))], ALL_PARTS).unwrap_or_default();
            // The chunk sums the tag counters (one update per tag).
            ops.extend(planned.into_iter().filter(|op| !matches!(op, WriteOp::Update { .. })));
        }
        if rng.chance(0.02) {
            let row = entities::sized(
                &Key::new(errors_partition(&org.id, &import.id), format!("{:09}", import.done)),
                &[("errors", "invalid email")],
            );
            ops.push(WriteOp::Put {
                item: row,
                condition: None,
            });
        }
        ops.push(WriteOp::Update {
            key: contacts::tag_counter_key(&org.id, &import.tag),
            update: Update::default().add("count", chunk.len() as i64),
            condition: None,
        });
        // The chunk's new contacts on the organization's contact counter.
        ops.push(usage::contact_count_op(&org.id, chunk.len() as i64));
        ops.push(WriteOp::Update {
            key: import_key(&org.id, &import.id),
            update: Update::default().set("rows_done", (import.done + chunk.len()) as u64),
            condition: Some(Condition::AttributeEquals {
                name: "rows_done".into(),
                value: (import.done as u64).into(),
            }),
        });
        // The reservation, then the write in its turn.
        rec.get(t, &pace, 100);
        rec.write(
            t,
            &WriteOp::Put {
                item: pace_item.clone(),
                condition: None,
            },
            0,
        );
        let start = t.max(free_at);
        free_at = start + paced_seconds(&ops, PARTITION_WRITE_UNITS);
        rec.transact(start, &ops);
        keep_contact_ops(rec, &ops);
        import.done += chunk.len();
        import.ready = start + config.transaction_seconds;
    }
}

/// `exports::job`: the export record, then the contacts' creation index in
/// pages of 100 (each page's part written to the object store).
fn export(rec: &mut Recorder, org: &Org, at: f64, rng: &mut Rng) {
    let user = member(org, rng);
    people::request(rec, org, user, at, rng);
    let record = entities::sized(
        &export_key(&org.id, &rng.id()),
        &[("state", "queued"), ("format", "csv")],
    );
    rec.write(
        at,
        &WriteOp::Put {
            item: record.clone(),
            condition: Some(Condition::NotExists),
        },
        0,
    );
    rec.keep_item(&record, Retention::Days(7.0), Retention::Days(7.0));
    let pages = (org.contacts as usize).div_ceil(100);
    let partition = contacts::contacts_index_partition(&org.id);
    for page in 0..pages {
        let t = at + 1.0 + page as f64 * EXPORT_PAGE_SECONDS;
        rec.query(t, Index::Gsi1, &partition, 100, CONTACT_BYTES, 100);
        if page % 50 == 49 {
            rec.write(
                t,
                &WriteOp::Update {
                    key: Key::of(&record).unwrap_or_else(|| Key::new("", "")),
                    update: Update::default().set("rows", page as u64 * 100),
                    condition: None,
                },
                500,
            );
        }
    }
}

fn deal_record(org: &Org, rng: &mut Rng, now: Timestamp) -> DealRecord {
    DealRecord {
        id: DealId::new(rng.id()),
        pipeline_id: PipelineId::from(&org.pipeline_id),
        stage_id: org.stage_ids[rng.below(org.stage_ids.len() as u64) as usize].clone(),
        title: "Annual service plan".into(),
        contact_id: ContactId::new(org.some_contact(rng)),
        value: 120_000,
        currency: "USD".into(),
        status: DealStatus::Open,
        expected_close_date: Some("2026-11-30".into()),
        owner_id: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    }
}

/// A deal created (`pipelines::create_deal`: deal, timeline entry, audit,
/// the pipeline's statistics) and later moved through two stages
/// (`update_deal`: the same four).
fn deal(rec: &mut Recorder, day0: Timestamp, org: &Org, rel: i64, rng: &mut Rng) {
    let user = member(org, rng);
    let mut deal = deal_record(org, rng, instant(day0, rel));
    for step in 0..3 {
        let rel = rel + step * 3 * 3600;
        let at = rel as f64;
        let now = instant(day0, rel);
        people::request(rec, org, user, at, rng);
        rec.get(at, &contacts::contact_key(&org.id, &deal.contact_id), CONTACT_BYTES);
        let before = deal.clone();
        if step > 0 {
            rec.get(at, &konnecs::services::pipelines::deal_key(&org.id, &deal.id), 800);
            deal.stage_id = org.stage_ids[(step as usize) % org.stage_ids.len()].clone();
            deal.version += 1;
        }
        let item: Item = deal_item(&org.id, &deal).unwrap_or_default();
        let mut ops = vec![
            WriteOp::Put {
                item: item.clone(),
                condition: None,
            },
            contacts::timeline_entry(
                &org.id,
                &deal.contact_id,
                "deal.stage_changed",
                json!({"deal_id": deal.id}),
                now,
            ),
            audit::entry(&actor(org, user, rng), now, "deal.update", "deal", json!({})),
        ];
        let change = if step == 0 {
            (None, Some(&deal))
        } else {
            (Some(&before), Some(&deal))
        };
        ops.extend(stats_ops(&org.id, &[change]));
        rec.transact(at, &ops);
        if step == 0 {
            rec.keep_item(&item, Retention::Forever, Retention::Forever);
        }
    }
}

/// A note on a contact (`contacts::notes::create`): note, timeline entry
/// and audit entry in one transaction.
fn note(rec: &mut Recorder, day0: Timestamp, org: &Org, rel: i64, rng: &mut Rng) {
    let at = rel as f64;
    let now = instant(day0, rel);
    let user = member(org, rng);
    people::request(rec, org, user, at, rng);
    let contact_id = org.some_contact(rng);
    rec.get(
        at,
        &contacts::contact_key(&org.id, &ContactId::from(&contact_id)),
        CONTACT_BYTES,
    );
    let note = to_item(
        &notes::note_key(&org.id, &ContactId::from(&contact_id), &rng.id()),
        &json!({"text": "Called back, prefers mornings.", "author": org.users[user].id}),
        &[],
    )
    .unwrap_or_default();
    let ops = vec![
        WriteOp::Put {
            item: note,
            condition: None,
        },
        contacts::timeline_entry(&org.id, &ContactId::from(&contact_id), "note", json!({}), now),
        audit::entry(&actor(org, user, rng), now, "note.create", "note", json!({})),
    ];
    rec.transact(at, &ops);
}
