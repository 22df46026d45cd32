//! Email from members' own Gmail and the reply poll: each email
//! (`google::gmail::send_to_contact`) reads the contact, the connection and
//! the member, claims its send key, then writes the claim's result, the
//! thread index, the timeline entry and the audit entry in one
//! transaction, and registers the mailbox (`GMAILBOXES#<shard>`). Every
//! five minutes the poll (`google::gmail_replies::poll`) reads the
//! registry's shards side by side, each shard's mailboxes in turn: its connection, the
//! thread and seen marker of each new message in a tracked thread, a
//! reply's marker and timeline entry, and the mailbox's new history id.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use konnecs::domain::ids::{ContactId, UserId};
use konnecs::ports::{Index, Key, Update, WriteOp};
use konnecs::services::google::connection_key;
use konnecs::services::google::gmail::{MAILBOX_SHARDS, mailbox_key, send_key, thread_key};
use konnecs::services::google::gmail_replies::reply_key;
use konnecs::services::records::user_key;
use konnecs::services::{audit, contacts, object};
use serde_json::json;

use super::Sim;
use super::meter::{DAY_SECONDS, Recorder};
use super::people;
use super::population::{self, OFFICE_HOURS, Org, org_table};
use super::rng::Rng;

const CONTACT_BYTES: usize = 1_200;
const CONNECTION_BYTES: usize = 1_400;
const USER_BYTES: usize = 600;
const THREAD_BYTES: usize = 400;
const MAILBOX_BYTES: usize = 180;
/// The poll's period (`gmail-replies-tick`).
const TICK_SECONDS: i64 = 300;
/// One mailbox's turn in the poll: its history call and a metadata read.
const MAILBOX_SECONDS: f64 = 0.2;

fn instant(day0: Timestamp, rel: i64) -> Timestamp {
    Timestamp::from_second(day0.as_second() + rel).unwrap_or(day0)
}

/// A reply due in the poll after `at`.
struct Reply {
    at: i64,
    contact_id: String,
    thread_id: String,
}

pub fn run(sim: &mut Sim) {
    let mut rng = sim.rng.fork(7);
    let table = org_table(&sim.orgs);
    let office = population::profile_table(&OFFICE_HOURS);
    let config = &sim.config;
    let rec = &mut sim.rec;
    let day0 = sim.day0;
    // Steady state: a mailbox that sends today was registered before.
    let mut mailboxes: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut replies: BTreeMap<(usize, usize), Vec<Reply>> = BTreeMap::new();
    for _ in 0..config.gmail_emails_per_day {
        let o = table.draw(&mut rng);
        let org = &sim.orgs[o];
        let at = org.utc_second(population::local_second(&mut rng, &office, &OFFICE_HOURS));
        let user = rng.below(org.users.len() as u64) as usize;
        let (contact_id, thread_id) = send(rec, day0, org, user, at, &mut rng);
        mailboxes.insert((o, user));
        if rng.chance(config.gmail_reply_share) {
            let later = 600 + rng.below(6 * 3600) as i64;
            replies.entry((o, user)).or_default().push(Reply {
                at: (at + later).rem_euclid(i64::from(DAY_SECONDS)),
                contact_id,
                thread_id,
            });
        }
    }
    let mut shards: BTreeMap<u32, Vec<(usize, usize)>> = BTreeMap::new();
    for &(o, user) in &mailboxes {
        let org = &sim.orgs[o];
        let key = mailbox_key(&org.id, &UserId::from(org.users[user].id.clone()));
        let shard = key.pk.rsplit('#').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        shards.entry(shard).or_default().push((o, user));
    }
    for tick in 0..(i64::from(DAY_SECONDS) / TICK_SECONDS) {
        let start = tick * TICK_SECONDS;
        // The shards are polled side by side, each one's mailboxes in turn.
        for shard in 0..MAILBOX_SHARDS {
            let mut at = start as f64 + 1.0;
            let listed = shards.get(&shard).map_or(0, Vec::len);
            rec.query(
                at,
                Index::Primary,
                &format!("GMAILBOXES#{shard}"),
                listed,
                MAILBOX_BYTES,
                100,
            );
            for &(o, user) in shards.get(&shard).map_or(&[][..], Vec::as_slice) {
                at += MAILBOX_SECONDS;
                let org = &sim.orgs[o];
                let due: Vec<&Reply> = replies
                    .get(&(o, user))
                    .map(|r| {
                        r.iter()
                            .filter(|r| r.at > start - TICK_SECONDS && r.at <= start)
                            .collect()
                    })
                    .unwrap_or_default();
                poll_mailbox(rec, day0, org, user, at, &due);
            }
        }
    }
}

/// One email from the record (`send_to_contact`); its contact and thread.
fn send(rec: &mut Recorder, day0: Timestamp, org: &Org, user: usize, rel: i64, rng: &mut Rng) -> (String, String) {
    let at = rel as f64;
    let now = instant(day0, rel);
    let user_id = UserId::from(org.users[user].id.clone());
    people::request(rec, org, user, at, rng);
    let contact_id = org.some_contact(rng);
    let contact = ContactId::from(&contact_id);
    rec.get(at, &contacts::contact_key(&org.id, &contact), CONTACT_BYTES);
    let claim = send_key(&org.id, &user_id, &rng.id());
    rec.write(
        at,
        &WriteOp::Put {
            item: object(json!({"pk": claim.pk, "sk": claim.sk, "status": "sending"})),
            condition: None,
        },
        0,
    );
    rec.get(at, &connection_key(&org.id, &user_id), CONNECTION_BYTES);
    rec.get(at, &connection_key(&org.id, &user_id), CONNECTION_BYTES);
    rec.get(at, &user_key(&user_id), USER_BYTES);
    // Gmail answers in about a second.
    let at = at + 1.0;
    let thread_id = rng.id();
    let thread = thread_key(&org.id, &user_id, &thread_id);
    rec.get(at, &thread, 0);
    let ops = vec![
        WriteOp::Update {
            key: claim,
            update: Update::default().set("status", "sent"),
            condition: None,
        },
        WriteOp::Put {
            item: object(json!({"pk": thread.pk, "sk": thread.sk, "contact_id": contact_id, "sent_ids": [rng.id()]})),
            condition: None,
        },
        contacts::timeline_entry(
            &org.id,
            &contact,
            "email.sent",
            json!({"subject": "Your next appointment", "body": "x".repeat(600)}),
            now,
        ),
        audit::entry(
            &audit::Actor {
                org_id: org.id.clone(),
                user_id: Some(user_id.clone()),
                request_id: rng.id(),
                ip: Some("198.51.100.24".into()),
                user_agent: None,
            },
            now,
            "contact.email_sent",
            "contact",
            json!({}),
        ),
    ];
    rec.transact(at, &ops);
    let mailbox = mailbox_key(&org.id, &user_id);
    rec.write(
        at,
        &WriteOp::Put {
            item: object(json!({"pk": mailbox.pk, "sk": mailbox.sk})),
            condition: None,
        },
        0,
    );
    (contact_id, thread_id)
}

/// One mailbox's turn in the poll, with the replies that arrived since the last.
fn poll_mailbox(rec: &mut Recorder, day0: Timestamp, org: &Org, user: usize, at: f64, due: &[&Reply]) {
    let user_id = UserId::from(org.users[user].id.clone());
    let connection = connection_key(&org.id, &user_id);
    rec.get(at, &connection, CONNECTION_BYTES);
    rec.get(at, &connection, CONNECTION_BYTES);
    let now = instant(day0, at as i64);
    for reply in due {
        let message_id = format!("{}r", reply.thread_id);
        rec.get(at, &thread_key(&org.id, &user_id, &reply.thread_id), THREAD_BYTES);
        let marker = reply_key(&org.id, &user_id, &message_id);
        rec.get(at, &marker, 0);
        let contact = ContactId::from(&reply.contact_id);
        rec.get(at, &contacts::contact_key(&org.id, &contact), CONTACT_BYTES);
        let ops = vec![
            WriteOp::Put {
                item: object(json!({"pk": marker.pk, "sk": marker.sk, "contact_id": reply.contact_id})),
                condition: None,
            },
            contacts::timeline_entry(
                &org.id,
                &contact,
                "email.reply_received",
                json!({"from": "Zoë <zoe@example.org>", "subject": "Re: Your next appointment"}),
                now,
            ),
        ];
        rec.transact(at, &ops);
    }
    let mailbox: Key = mailbox_key(&org.id, &user_id);
    rec.write(
        at,
        &WriteOp::Update {
            key: mailbox,
            update: Update::default().set("history_id", "9001"),
            condition: None,
        },
        MAILBOX_BYTES,
    );
}
