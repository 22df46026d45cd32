//! The contact list by name and by last update, either way, through the
//! JSON API on both stores: the embedded store (SQLite) and DynamoDB (moto
//! on loopback, `KONNECS_TEST_AWS_ENDPOINT`; the `dynamodb` tests fail
//! without it). Each case runs unchanged on both: `cargo test --test
//! contact_order sqlite` or `... dynamodb`.

use std::collections::BTreeSet;
use std::sync::Arc;

use http::StatusCode;
use konnecs::adapters::aws::dynamodb::DynamoTable;
use konnecs::catalogue;
use konnecs::domain::ids::{ContactId, OrgId};
use konnecs::inbound::AppState;
use konnecs::ports::{Clock, Index, Key, Query, TestClock, Update};
use konnecs::services::contacts::{self, order_backfill};
use konnecs_tests::http::{Browser, Reply};
use serde_json::{Value, json};

#[derive(Clone, Copy)]
enum Store {
    Sqlite,
    Dynamodb,
}

struct Fixture {
    state: AppState,
    app: axum::Router,
    clock: TestClock,
    _dir: tempfile::TempDir,
}

async fn fixture(store: Store) -> Fixture {
    let clock = TestClock::at("2026-05-04T09:00:00Z".parse().expect("time"));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (mut state, dir) = konnecs_tests::local::temp_state_with_clock(shared.clone());
    if let Store::Dynamodb = store {
        let (client, name) = konnecs_tests::aws::unique_table().await;
        state.table = Arc::new(DynamoTable::new(client, name, shared));
    }
    let app = konnecs::inbound::http::router(state.clone(), catalogue::entries());
    Fixture {
        state,
        app,
        clock,
        _dir: dir,
    }
}

impl Fixture {
    async fn sign_up(&self, name: &str, email: &str, business: &str) -> (Browser, OrgId) {
        let body =
            json!({"name": name, "email": email, "password": "order-by-name-and-date-42", "business_name": business});
        let reply = Browser::anonymous()
            .send(&self.app, "POST", "/auth/signup", Some(&body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let browser = Browser::from_reply(&reply);
        let org = reply.body["org_id"].as_str().expect("org_id");
        (browser, OrgId::from(org))
    }

    /// Creates a contact a second after the last write; returns its id.
    async fn create(&self, who: &Browser, body: Value) -> String {
        self.clock.advance(jiff::SignedDuration::from_secs(1));
        let reply = who.send(&self.app, "POST", "/contacts", Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_string()
    }

    async fn rename(&self, who: &Browser, id: &str, first_name: &str) {
        self.clock.advance(jiff::SignedDuration::from_secs(1));
        let reply = who
            .send(
                &self.app,
                "PATCH",
                &format!("/contacts/{id}"),
                Some(&json!({"first_name": first_name})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    async fn page(&self, who: &Browser, query: &str) -> Reply {
        who.send(&self.app, "GET", &format!("/contacts?{query}"), None).await
    }

    /// Every page of `sort` at `limit` a page: (ids in order, pages read).
    async fn all_pages(&self, who: &Browser, sort: &str, limit: u32) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for pages in 1..=50 {
            let mut query = format!("sort={sort}&limit={limit}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={c}"));
            }
            let reply = self.page(who, &query).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            ids.extend(ids_of(&reply));
            cursor = reply.body["cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                return (ids, pages);
            }
        }
        panic!("more than 50 pages");
    }
}

fn ids_of(reply: &Reply) -> Vec<String> {
    reply.body["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("no contacts in {}", reply.body))
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

fn names_of(reply: &Reply) -> Vec<String> {
    reply.body["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("no contacts in {}", reply.body))
        .iter()
        .map(|c| {
            let part = |name: &str| c[name].as_str().unwrap_or_default().to_string();
            format!("{} {}", part("first_name"), part("last_name"))
                .trim()
                .to_string()
        })
        .collect()
}

async fn names_sort_ignoring_case_and_accents_with_namesakes_in_id_order(store: Store) {
    let f = fixture(store).await;
    let (anna, _) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let mut namesakes = Vec::new();
    for (first, last, email) in [
        ("zoë", "Adams", "zoe@example.com"),
        ("Émile", "Zola", "emile@example.com"),
        ("ana", "", "ana1@example.com"),
        ("Ana", "B", "anab@example.com"),
        ("ZACK", "", "zack@example.com"),
        ("Álvaro", "", "alvaro1@example.com"),
        ("alvaro", "", "alvaro2@example.com"),
        ("", "", "nameless@example.com"),
        ("Anab", "", "anab2@example.com"),
    ] {
        let mut body = json!({"emails": [{"address": email}]});
        if !first.is_empty() {
            body["first_name"] = first.into();
        }
        if !last.is_empty() {
            body["last_name"] = last.into();
        }
        let id = f.create(&anna, body).await;
        if first.eq_ignore_ascii_case("alvaro") || first == "Álvaro" {
            namesakes.push(id);
        }
    }
    let a_to_z = f.page(&anna, "sort=name&limit=100").await;
    assert_eq!(a_to_z.status, StatusCode::OK, "{}", a_to_z.body);
    let names = names_of(&a_to_z);
    // "Álvaro" and "alvaro" fold alike: they tie, and their ids decide.
    let (first_alvaro, second_alvaro) = if namesakes[0] < namesakes[1] {
        ("Álvaro", "alvaro")
    } else {
        ("alvaro", "Álvaro")
    };
    assert_eq!(
        names,
        [
            first_alvaro,
            second_alvaro,
            "ana",
            "Ana B",
            "Anab",
            "Émile Zola",
            "ZACK",
            "zoë Adams",
            ""
        ],
        "A to Z, the nameless contact last"
    );
    let z_to_a = f.page(&anna, "sort=-name&limit=100").await;
    let mut reversed = names_of(&z_to_a);
    reversed.reverse();
    assert_eq!(reversed, names, "Z to A is exactly the reverse");
}

async fn last_update_orders_follow_edits(store: Store) {
    let f = fixture(store).await;
    let (anna, _) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let a = f.create(&anna, json!({"first_name": "Avery"})).await;
    let b = f.create(&anna, json!({"first_name": "Blake"})).await;
    let c = f.create(&anna, json!({"first_name": "Casey"})).await;
    let recent = f.page(&anna, "sort=-updated").await;
    assert_eq!(ids_of(&recent), [c.clone(), b.clone(), a.clone()]);
    f.rename(&anna, &a, "Avery-Jo").await;
    f.rename(&anna, &b, "Blake-Sam").await;
    // An edit that changes nothing is no update.
    f.rename(&anna, &c, "Casey").await;
    let recent = f.page(&anna, "sort=-updated").await;
    assert_eq!(
        ids_of(&recent),
        [b.clone(), a.clone(), c.clone()],
        "the last edited first"
    );
    let least = f.page(&anna, "sort=updated").await;
    assert_eq!(ids_of(&least), [c.clone(), a.clone(), b.clone()]);
    // Creation order is untouched by the edits.
    let newest = f.page(&anna, "sort=-created").await;
    assert_eq!(ids_of(&newest), [c, b, a]);
}

async fn sorted_pages_follow_their_cursors_without_duplicates_or_gaps(store: Store) {
    let f = fixture(store).await;
    let (anna, _) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let mut all = BTreeSet::new();
    for (i, name) in [
        "Quinn", "quinn", "Ada", "Ömer", "Bo", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal",
    ]
    .iter()
    .enumerate()
    {
        all.insert(
            f.create(&anna, json!({"first_name": name, "last_name": format!("N{i}")}))
                .await,
        );
    }
    for sort in ["name", "-name", "updated", "-updated"] {
        let (whole, _) = f.all_pages(&anna, sort, 100).await;
        let (paged, pages) = f.all_pages(&anna, sort, 3).await;
        assert!(pages >= 4, "{sort}: {pages} pages of 3 for 11 contacts");
        assert_eq!(paged, whole, "{sort}: pages of 3 read the one order");
        let unique: BTreeSet<String> = paged.iter().cloned().collect();
        assert_eq!(unique.len(), paged.len(), "{sort}: a contact on two pages");
        assert_eq!(unique, all, "{sort}: every contact, once");
    }
}

async fn a_tampered_cursor_is_a_problem_not_a_page(store: Store) {
    let f = fixture(store).await;
    let (anna, _) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    for name in ["Ada", "Bo", "Cy"] {
        f.create(&anna, json!({"first_name": name})).await;
    }
    for sort in ["name", "-updated"] {
        let first = f.page(&anna, &format!("sort={sort}&limit=1")).await;
        let cursor = first.body["cursor"].as_str().expect("a cursor").to_string();
        let mut tampered = cursor.clone();
        tampered.insert_str(4, "x9");
        for bad in [tampered.as_str(), "not-a-cursor", "eyJwayI6IkEifQ"] {
            let reply = f.page(&anna, &format!("sort={sort}&limit=1&cursor={bad}")).await;
            assert!(
                reply.status.is_client_error(),
                "{sort} with {bad}: {} {}",
                reply.status,
                reply.body
            );
            let kind = reply.headers.get("content-type").and_then(|v| v.to_str().ok());
            assert_eq!(kind, Some("application/problem+json"), "{}", reply.body);
        }
        // A cursor of the other order names another index: refused too.
        let other = if sort == "name" { "-updated" } else { "name" };
        let reply = f.page(&anna, &format!("sort={other}&limit=1&cursor={cursor}")).await;
        assert!(reply.status.is_client_error(), "{}", reply.body);
    }
    let refused = f.page(&anna, "sort=shoe-size").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.to_string().contains("\"sort\""), "{}", refused.body);
}

async fn another_organizations_contacts_never_appear(store: Store) {
    let f = fixture(store).await;
    let (anna, _) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let (omar, _) = f.sign_up("Omar Diaz", "omar@diaz-dental.example", "Diaz Dental").await;
    let mut annas = BTreeSet::new();
    for name in ["Ada", "Bo", "Cy"] {
        annas.insert(f.create(&anna, json!({"first_name": name})).await);
    }
    let mut omars = BTreeSet::new();
    for name in ["Aaron", "Bea", "Zed", "Abe"] {
        omars.insert(f.create(&omar, json!({"first_name": name})).await);
    }
    for sort in ["name", "-name", "updated", "-updated"] {
        let (seen, _) = f.all_pages(&anna, sort, 2).await;
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), annas, "{sort}");
        let (seen, _) = f.all_pages(&omar, sort, 2).await;
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), omars, "{sort}");
        // One organization's cursor never reads the other's index.
        let first = f.page(&anna, &format!("sort={sort}&limit=1")).await;
        let cursor = first.body["cursor"].as_str().expect("cursor");
        let reply = f.page(&omar, &format!("sort={sort}&limit=1&cursor={cursor}")).await;
        assert!(reply.status.is_client_error(), "{sort}: {}", reply.body);
    }
}

/// Makes a stored contact look as one written before the sort keys: its
/// gsi3 keys removed and its by-name item deleted.
async fn strip_sort_keys(state: &AppState, org: &OrgId, id: &str) {
    let record = contacts::get(state.table.as_ref(), org, &ContactId::from(id))
        .await
        .expect("contact");
    let key = contacts::contact_key(org, &ContactId::from(id));
    state
        .table
        .update(&key, Update::default().remove("gsi3pk").remove("gsi3sk"), None)
        .await
        .expect("strip gsi3");
    let names = state
        .table
        .query(&Query::partition(contacts::contacts_by_name_partition(org)))
        .await
        .expect("names");
    for item in names.items {
        if item["contact_id"] == record.id.as_str() {
            let key = Key::of(&item).expect("key");
            state.table.delete(&key, None).await.expect("delete name item");
        }
    }
}

async fn the_backfill_gives_older_contacts_their_sort_keys_once(store: Store) {
    let f = fixture(store).await;
    let (anna, org) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let mut ids = Vec::new();
    for name in ["Cy", "Ada", "Bo", "Dee", "Eve"] {
        ids.push(f.create(&anna, json!({"first_name": name})).await);
    }
    for id in &ids[..3] {
        strip_sort_keys(&f.state, &org, id).await;
    }
    // As before the change: the older three are in neither order.
    let by_update = f
        .state
        .table
        .query(&Query::partition(contacts::contacts_by_update_partition(&org)).on(Index::Gsi3))
        .await
        .expect("gsi3");
    assert_eq!(by_update.items.len(), 2);
    // The first sorted list starts the back-fill; the job fills the keys.
    let before = f.page(&anna, "sort=name").await;
    assert_eq!(names_of(&before), ["Dee", "Eve"]);
    konnecs_tests::local::drain_jobs(&f.state).await;
    let after = f.page(&anna, "sort=name").await;
    assert_eq!(names_of(&after), ["Ada", "Bo", "Cy", "Dee", "Eve"]);
    let recent = f.page(&anna, "sort=-updated").await;
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(ids_of(&recent), newest_first);
    let marker = f
        .state
        .table
        .get(&order_backfill::marker_key(&org))
        .await
        .expect("marker")
        .expect("a marker");
    assert_eq!(marker["state"], "done");
    // Done is done: no second job, and running it again changes nothing.
    assert!(order_backfill::ensure_started(&f.state, &org).await.expect("ensure"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    assert_eq!(
        order_backfill::run_slice(&f.state, &org, deadline)
            .await
            .expect("slice"),
        order_backfill::Slice::Done
    );
    let again = f.page(&anna, "sort=name").await;
    assert_eq!(names_of(&again), names_of(&after));
}

async fn the_backfill_resumes_from_its_cursor_and_skips_what_is_there(store: Store) {
    let f = fixture(store).await;
    let (anna, org) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let mut ids = Vec::new();
    for i in 0..130 {
        ids.push(f.create(&anna, json!({"first_name": format!("P{i:03}")})).await);
    }
    // Every other one lost its keys; a slice with no time left does one page.
    for id in ids.iter().step_by(2) {
        strip_sort_keys(&f.state, &org, id).await;
    }
    let spent = std::time::Instant::now();
    let slice = order_backfill::run_slice(&f.state, &org, spent).await.expect("slice");
    assert_eq!(slice, order_backfill::Slice::More);
    let (partly, _) = f.all_pages(&anna, "name", 100).await;
    assert!(
        partly.len() > 65 && partly.len() < 130,
        "one page of 100 filled: {}",
        partly.len()
    );
    let slice = order_backfill::run_slice(&f.state, &org, spent).await.expect("slice");
    assert_eq!(slice, order_backfill::Slice::Done);
    let (whole, _) = f.all_pages(&anna, "name", 100).await;
    assert_eq!(whole, ids, "P000..P129 by name is creation order here");
}

async fn a_backfill_whose_kept_cursor_no_longer_reads_starts_over(store: Store) {
    let f = fixture(store).await;
    let (anna, org) = f.sign_up("Anna Lee", "anna@lee-physio.example", "Lee Physio").await;
    let mut ids = Vec::new();
    for name in ["Cy", "Ada", "Bo", "Dee", "Eve"] {
        ids.push(f.create(&anna, json!({"first_name": name})).await);
    }
    for id in &ids[..3] {
        strip_sort_keys(&f.state, &org, id).await;
    }
    // A marker left mid-walk by a release whose cursors were bare keys.
    let stale = "eyJwayI6IkEifQ";
    let key = order_backfill::marker_key(&org);
    let marker = json!({"pk": key.pk, "sk": key.sk, "state": "running", "cursor": stale});
    let marker = marker.as_object().cloned().expect("object");
    f.state.table.put(marker, None).await.expect("marker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let slice = order_backfill::run_slice(&f.state, &org, deadline)
        .await
        .expect("slice");
    assert_eq!(slice, order_backfill::Slice::Done);
    let after = f.page(&anna, "sort=name").await;
    assert_eq!(names_of(&after), ["Ada", "Bo", "Cy", "Dee", "Eve"]);
}

macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Store::Sqlite).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Store::Dynamodb).await;
                }
            )*
        }
    };
}

on_both_stores!(
    names_sort_ignoring_case_and_accents_with_namesakes_in_id_order,
    last_update_orders_follow_edits,
    sorted_pages_follow_their_cursors_without_duplicates_or_gaps,
    a_tampered_cursor_is_a_problem_not_a_page,
    another_organizations_contacts_never_appear,
    the_backfill_gives_older_contacts_their_sort_keys_once,
    the_backfill_resumes_from_its_cursor_and_skips_what_is_there,
    a_backfill_whose_kept_cursor_no_longer_reads_starts_over,
);
