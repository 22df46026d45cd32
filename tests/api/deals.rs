//! Pipelines, deals and the board through the router on the embedded store:
//! ordered stages, contact and currency validation, stage moves with their
//! timeline entry, board counts and totals per currency from the pipeline's
//! statistics (kept exact by every deal change, counted once for a pipeline
//! older than them) and a page of deals per stage,
//! refusing to orphan deals, optimistic concurrency and tenancy.

use http::StatusCode;
use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::PipelineId;
use konnecs::ports::counting::CountingTable;
use konnecs::services::pipelines;
use konnecs_tests::app::{TestApp, field_errors, problem};
use konnecs_tests::http::{Browser, Reply};
use serde_json::{Value, json};

type World = TestApp;

fn world() -> World {
    TestApp::new()
}

async fn signup(w: &World, email: &str) -> Browser {
    w.sign_up(email, "Whitfield Dental").await.browser
}

async fn call(w: &World, b: &Browser, method: &str, path: &str, body: Option<Value>) -> Reply {
    w.send(b, method, path, body.as_ref()).await
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    problem(reply, status, code);
}

fn fields(reply: &Reply) -> Vec<String> {
    field_errors(reply).into_iter().map(|(field, _)| field).collect()
}

async fn contact(w: &World, b: &Browser, email: &str) -> String {
    let reply = call(
        w,
        b,
        "POST",
        "/contacts",
        Some(json!({"first_name": "Ann", "emails": [email]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("contact id").to_string()
}

/// A pipeline with stages Lead (10%), Qualified (50%), Won (100%).
async fn pipeline(w: &World, b: &Browser) -> Value {
    let body = json!({"name": "New patients", "stages": [
        {"name": "Lead", "probability": 10}, {"name": "Qualified", "probability": 50}, {"name": "Won", "probability": 100}
    ]});
    let reply = call(w, b, "POST", "/pipelines", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

fn stage_id(pipeline: &Value, i: usize) -> String {
    pipeline["stages"][i]["id"].as_str().expect("stage id").to_string()
}

async fn deal(
    w: &World,
    b: &Browser,
    pipeline: &Value,
    stage: usize,
    contact: &str,
    value: i64,
    currency: &str,
) -> Value {
    let body = json!({
        "title": format!("Deal {value} {currency}"), "contact_id": contact, "pipeline_id": pipeline["id"],
        "stage_id": stage_id(pipeline, stage), "value": value, "currency": currency, "expected_close_date": "2026-03-31",
    });
    let reply = call(w, b, "POST", "/deals", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn pipelines_keep_their_stages_in_order_with_positions_and_probabilities() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let created = pipeline(&w, &b).await;
    let listed = call(&w, &b, "GET", "/pipelines", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let stages = &listed.body["items"][0]["stages"];
    let names: Vec<&str> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Lead", "Qualified", "Won"]);
    for (i, stage) in stages.as_array().unwrap().iter().enumerate() {
        assert_eq!(stage["position"], i);
        assert!(stage["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    assert_eq!(stages[1]["probability"], 50);

    // Reorder and rename by id: ids stay, positions follow the new order.
    let patch = json!({"stages": [
        {"id": stage_id(&created, 1), "name": "Qualified lead", "probability": 60},
        {"id": stage_id(&created, 0), "name": "Lead"},
        {"id": stage_id(&created, 2), "name": "Won", "probability": 100},
    ]});
    let reply = call(
        &w,
        &b,
        "PATCH",
        &format!("/pipelines/{}", created["id"].as_str().unwrap()),
        Some(patch),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["stages"][0]["id"], created["stages"][1]["id"]);
    assert_eq!(reply.body["stages"][0]["position"], 0);
    assert_eq!(reply.body["stages"][0]["name"], "Qualified lead");
    assert_eq!(reply.body["stages"][1]["position"], 1);

    // One pipeline reads back as the change left it, with its version as ETag.
    let path = format!("/pipelines/{}", created["id"].as_str().unwrap());
    let one = call(&w, &b, "GET", &path, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body, reply.body);
    assert_eq!(one.headers["etag"], format!("\"{}\"", reply.body["version"]).as_str());
    let unknown = call(&w, &b, "GET", "/pipelines/0193a4c2e1f07b5a9d3c6e8f1a2b4c5d", None).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");

    let bad = call(
        &w,
        &b,
        "POST",
        "/pipelines",
        Some(json!({"name": " ", "stages": [{"name": "A", "probability": 101}]})),
    )
    .await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&bad), ["name", "stages[0].probability"]);
}

#[tokio::test]
async fn a_deal_needs_a_contact_of_the_same_organization_and_a_known_currency() {
    let w = world();
    let dana = signup(&w, "dana@whitfield-dental.example").await;
    let other = signup(&w, "omar@harbour-physio.example").await;
    let foreign_contact = contact(&w, &other, "lee@example.com").await;
    let own_contact = contact(&w, &dana, "ann@example.com").await;
    let p = pipeline(&w, &dana).await;

    let reply = call(
        &w,
        &dana,
        "POST",
        "/deals",
        Some(json!({
            "title": "Crowns", "contact_id": foreign_contact, "pipeline_id": p["id"], "value": 1000, "currency": "EUR"
        })),
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&reply), ["contact_id"]);

    let reply = call(
        &w,
        &dana,
        "POST",
        "/deals",
        Some(json!({
            "title": "Crowns", "contact_id": own_contact, "pipeline_id": p["id"], "value": -5, "currency": "EURO",
            "expected_close_date": "2026-02-30"
        })),
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut got = fields(&reply);
    got.sort();
    assert_eq!(got, ["currency", "expected_close_date", "value"]);

    let created = call(
        &w,
        &dana,
        "POST",
        "/deals",
        Some(json!({
            "title": "Crowns", "contact_id": own_contact, "pipeline_id": p["id"], "value": 125_000, "currency": "jpy"
        })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["currency"], "JPY");
    assert_eq!(created.body["value"], 125_000);
    assert_eq!(created.body["status"], "open");
    assert_eq!(
        created.body["stage_id"], p["stages"][0]["id"],
        "defaults to the first stage"
    );
}

#[tokio::test]
async fn moving_a_deal_between_stages_writes_a_stage_change_on_the_contacts_timeline() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    let d = deal(&w, &b, &p, 0, &c, 5000, "EUR").await;
    let id = d["id"].as_str().unwrap();

    let moved = call(
        &w,
        &b,
        "PATCH",
        &format!("/deals/{id}"),
        Some(json!({"stage_id": stage_id(&p, 1)})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["stage_id"], p["stages"][1]["id"]);
    assert_eq!(moved.body["version"], 2);

    let timeline = call(&w, &b, "GET", &format!("/contacts/{c}/timeline"), None).await;
    assert_eq!(timeline.status, StatusCode::OK, "{}", timeline.body);
    let entries = timeline.body["entries"].as_array().expect("timeline entries");
    let change = entries
        .iter()
        .find(|e| e["kind"] == "deal_stage_changed")
        .expect("a stage-change entry");
    assert_eq!(change["detail"]["deal_id"], id);
    assert_eq!(change["detail"]["from_stage_id"], p["stages"][0]["id"]);
    assert_eq!(change["detail"]["to_stage_id"], p["stages"][1]["id"]);
    assert_eq!(change["detail"]["to_stage_name"], "Qualified");

    // A change that is not a move writes no stage entry.
    let renamed = call(
        &w,
        &b,
        "PATCH",
        &format!("/deals/{id}"),
        Some(json!({"title": "Veneers"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let timeline = call(&w, &b, "GET", &format!("/contacts/{c}/timeline"), None).await;
    let moves = timeline.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "deal_stage_changed")
        .count();
    assert_eq!(moves, 1);

    // A stage of another pipeline is refused.
    let other = pipeline(&w, &b).await;
    let wrong = call(
        &w,
        &b,
        "PATCH",
        &format!("/deals/{id}"),
        Some(json!({"stage_id": stage_id(&other, 0)})),
    )
    .await;
    assert_problem(&wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&wrong), ["stage_id"]);
}

#[tokio::test]
async fn the_board_counts_and_totals_each_stage_per_currency_with_queries_only() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c1 = contact(&w, &b, "ann@example.com").await;
    let c2 = contact(&w, &b, "bob@example.com").await;
    let p = pipeline(&w, &b).await;
    deal(&w, &b, &p, 0, &c1, 1_000, "EUR").await;
    deal(&w, &b, &p, 0, &c2, 2_550, "EUR").await;
    deal(&w, &b, &p, 0, &c2, 700, "USD").await;
    deal(&w, &b, &p, 1, &c1, 99_900, "EUR").await;

    let board = call(
        &w,
        &b,
        "GET",
        &format!("/pipelines/{}/board", p["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.body);
    let stages = board.body["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 3);
    assert_eq!(stages[0]["name"], "Lead");
    assert_eq!(stages[0]["count"], 3);
    assert_eq!(stages[0]["deals"].as_array().unwrap().len(), 3);
    assert_eq!(
        stages[0]["totals"],
        json!([{"currency": "EUR", "value": 3_550}, {"currency": "USD", "value": 700}])
    );
    assert_eq!(stages[1]["count"], 1);
    assert_eq!(stages[1]["totals"], json!([{"currency": "EUR", "value": 99_900}]));
    assert_eq!(stages[2]["count"], 0);
    assert_eq!(stages[2]["totals"], json!([]));

    // A per-stage limit trims the listed deals, never the counts or totals.
    let trimmed = call(
        &w,
        &b,
        "GET",
        &format!("/pipelines/{}/board?limit=1", p["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(trimmed.body["stages"][0]["deals"].as_array().unwrap().len(), 1);
    assert_eq!(trimmed.body["stages"][0]["count"], 3);

    // Store calls: one batch read (the pipeline and its statistics) and one
    // query per stage (a page of its deals), however many deals it has.
    let counting = CountingTable::new(w.state.table.clone());
    let counts = counting.counts();
    let org_id = org_of(&w, &b).await;
    pipelines::board(
        &counting,
        &OrgId::from(&org_id),
        &PipelineId::from(p["id"].as_str().unwrap()),
        50,
    )
    .await
    .expect("board");
    let calls = counts.snapshot();
    assert_eq!((calls.batch_get, calls.query, calls.total()), (1, 3, 4));

    // Contacts by pipeline stage (for the contact list's filter): one query.
    let counting = CountingTable::new(w.state.table.clone());
    let counts = counting.counts();
    let (ids, cursor) = pipelines::contacts_in_stage(
        &counting,
        &OrgId::from(&org_id),
        &PipelineId::from(p["id"].as_str().unwrap()),
        &stage_id(&p, 0),
        50,
        None,
    )
    .await
    .expect("contacts in stage");
    let mut ids = ids;
    ids.sort();
    let mut expected = vec![c1.clone(), c2.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(cursor.is_none());
    assert_eq!(counts.snapshot().query, 1);
    assert_eq!(counts.snapshot().total(), 1);
}

#[tokio::test]
async fn the_contact_list_filters_by_pipeline_stage_with_the_other_filters() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c1 = contact(&w, &b, "ann@example.com").await;
    let c2 = contact(&w, &b, "bob@example.com").await;
    let c3 = contact(&w, &b, "cat@example.com").await;
    let p = pipeline(&w, &b).await;
    let pid = p["id"].as_str().unwrap();
    deal(&w, &b, &p, 0, &c1, 1_000, "EUR").await;
    deal(&w, &b, &p, 0, &c2, 2_000, "EUR").await;
    deal(&w, &b, &p, 0, &c2, 3_000, "EUR").await;
    deal(&w, &b, &p, 1, &c3, 4_000, "EUR").await;
    let tagged = call(
        &w,
        &b,
        "PATCH",
        &format!("/contacts/{c2}"),
        Some(json!({"tags": ["vip"]})),
    )
    .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);

    let ids = |reply: &Reply| -> Vec<String> {
        let mut ids: Vec<String> = reply.body["contacts"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.body))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let lead = format!("/contacts?pipeline_id={pid}&stage_id={}", stage_id(&p, 0));
    let reply = call(&w, &b, "GET", &lead, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut expected = vec![c1.clone(), c2.clone()];
    expected.sort();
    assert_eq!(
        ids(&reply),
        expected,
        "each contact once, however many deals it has there"
    );
    assert!(
        reply.body["contacts"][0]["emails"][0]["address"].as_str().is_some(),
        "the listed contact carries its email"
    );

    let vip = call(&w, &b, "GET", &format!("{lead}&tag=vip"), None).await;
    assert_eq!(ids(&vip), std::slice::from_ref(&c2));
    let qualified = format!("/contacts?pipeline_id={pid}&stage_id={}", stage_id(&p, 1));
    assert_eq!(
        ids(&call(&w, &b, "GET", &qualified, None).await),
        std::slice::from_ref(&c3)
    );

    // Another organization's pipeline shows nothing of this one.
    let other = signup(&w, "eve@elsewhere.example").await;
    let foreign = call(&w, &other, "GET", &lead, None).await;
    assert_eq!(foreign.status, StatusCode::OK);
    assert!(ids(&foreign).is_empty());

    let half = call(&w, &b, "GET", &format!("/contacts?stage_id={}", stage_id(&p, 0)), None).await;
    assert_problem(&half, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&half), ["pipeline_id"]);
    let old_style = call(&w, &b, "GET", &format!("/contacts?stage={}", stage_id(&p, 0)), None).await;
    assert_problem(&old_style, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&old_style), ["stage"]);
    let with_search = call(&w, &b, "GET", &format!("{lead}&q=ann"), None).await;
    assert_problem(&with_search, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&with_search), ["q"]);
}

async fn org_of(w: &World, b: &Browser) -> String {
    let me = call(w, b, "GET", "/me", None).await;
    me.body["org_id"]
        .as_str()
        .unwrap_or_else(|| panic!("org id in /me: {}", me.body))
        .to_string()
}

#[tokio::test]
async fn removing_a_stage_that_has_deals_is_refused_unless_they_move_to_a_named_stage() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    let pid = p["id"].as_str().unwrap();
    let d = deal(&w, &b, &p, 1, &c, 4_000, "GBP").await;
    let without_qualified = json!([
        {"id": stage_id(&p, 0), "name": "Lead"}, {"id": stage_id(&p, 2), "name": "Won"}
    ]);

    let refused = call(
        &w,
        &b,
        "PATCH",
        &format!("/pipelines/{pid}"),
        Some(json!({"stages": without_qualified})),
    )
    .await;
    assert_problem(&refused, StatusCode::CONFLICT, "stage_has_deals");
    let unchanged = call(&w, &b, "GET", "/pipelines", None).await;
    assert_eq!(unchanged.body["items"][0]["stages"].as_array().unwrap().len(), 3);

    let body = json!({"stages": without_qualified, "move_deals_to": stage_id(&p, 2)});
    let done = call(&w, &b, "PATCH", &format!("/pipelines/{pid}"), Some(body)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["stages"].as_array().unwrap().len(), 2);
    let moved = call(&w, &b, "GET", &format!("/deals/{}", d["id"].as_str().unwrap()), None).await;
    assert_eq!(moved.body["stage_id"], p["stages"][2]["id"]);
    let board = call(&w, &b, "GET", &format!("/pipelines/{pid}/board"), None).await;
    assert_eq!(board.body["stages"][1]["count"], 1);
    let timeline = call(&w, &b, "GET", &format!("/contacts/{c}/timeline"), None).await;
    assert!(
        timeline.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "deal_stage_changed")
    );

    // A stage without deals goes without ceremony.
    let empty_removed = call(
        &w,
        &b,
        "PATCH",
        &format!("/pipelines/{pid}"),
        Some(json!({"stages": [{"id": stage_id(&p, 2), "name": "Won"}]})),
    )
    .await;
    assert_eq!(empty_removed.status, StatusCode::OK, "{}", empty_removed.body);
}

#[tokio::test]
async fn deleting_a_pipeline_that_has_deals_is_refused_unless_they_move_to_another_pipeline() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let old = pipeline(&w, &b).await;
    let new = pipeline(&w, &b).await;
    let d = deal(&w, &b, &old, 0, &c, 10, "EUR").await;
    let old_id = old["id"].as_str().unwrap();

    let refused = call(&w, &b, "DELETE", &format!("/pipelines/{old_id}"), None).await;
    assert_problem(&refused, StatusCode::CONFLICT, "pipeline_has_deals");

    let path = format!(
        "/pipelines/{old_id}?move_deals_to_pipeline={}&move_deals_to_stage={}",
        new["id"].as_str().unwrap(),
        stage_id(&new, 1)
    );
    let deleted = call(&w, &b, "DELETE", &path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let moved = call(&w, &b, "GET", &format!("/deals/{}", d["id"].as_str().unwrap()), None).await;
    assert_eq!(moved.body["pipeline_id"], new["id"]);
    assert_eq!(moved.body["stage_id"], new["stages"][1]["id"]);
    let gone = call(&w, &b, "GET", &format!("/pipelines/{old_id}/board"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let empty = pipeline(&w, &b).await;
    let deleted = call(
        &w,
        &b,
        "DELETE",
        &format!("/pipelines/{}", empty["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_stale_if_match_on_a_deal_is_refused_with_412() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    let d = deal(&w, &b, &p, 0, &c, 10, "EUR").await;
    let path = format!("/deals/{}", d["id"].as_str().unwrap());

    let got = call(&w, &b, "GET", &path, None).await;
    assert_eq!(got.headers["etag"], "\"1\"");
    let mut request = b.request("PATCH", &path, Some(&json!({"status": "won"})));
    request.headers_mut().insert("if-match", "\"1\"".parse().unwrap());
    assert_eq!(w.request(request).await.status, StatusCode::OK);
    let mut stale = b.request("PATCH", &path, Some(&json!({"status": "lost"})));
    stale.headers_mut().insert("if-match", "\"1\"".parse().unwrap());
    assert_problem(
        &w.request(stale).await,
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
    );
    let now = call(&w, &b, "GET", &path, None).await;
    assert_eq!(now.body["status"], "won");
}

#[tokio::test]
async fn deals_and_pipelines_of_another_organization_are_not_found() {
    let w = world();
    let dana = signup(&w, "dana@whitfield-dental.example").await;
    let omar = signup(&w, "omar@harbour-physio.example").await;
    let c = contact(&w, &dana, "ann@example.com").await;
    let p = pipeline(&w, &dana).await;
    let d = deal(&w, &dana, &p, 0, &c, 10, "EUR").await;
    let deal_path = format!("/deals/{}", d["id"].as_str().unwrap());
    let pipe_path = format!("/pipelines/{}", p["id"].as_str().unwrap());

    for (method, path, body) in [
        ("GET", deal_path.clone(), None),
        ("PATCH", deal_path.clone(), Some(json!({"title": "x"}))),
        ("DELETE", deal_path.clone(), None),
        ("GET", pipe_path.clone(), None),
        ("PATCH", pipe_path.clone(), Some(json!({"name": "x"}))),
        ("DELETE", pipe_path.clone(), None),
        ("GET", format!("{pipe_path}/board"), None),
    ] {
        let reply = call(&w, &omar, method, &path, body).await;
        assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    let list = call(&w, &omar, "GET", "/deals", None).await;
    assert_eq!(list.body["items"], json!([]));
    let still = call(&w, &dana, "GET", &deal_path, None).await;
    assert_eq!(still.status, StatusCode::OK);
    let deleted = call(&w, &dana, "DELETE", &deal_path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&w, &dana, "GET", &deal_path, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deals_list_filters_by_pipeline_stage_and_contact() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c1 = contact(&w, &b, "ann@example.com").await;
    let c2 = contact(&w, &b, "bob@example.com").await;
    let p = pipeline(&w, &b).await;
    let d1 = deal(&w, &b, &p, 0, &c1, 1, "EUR").await;
    let d2 = deal(&w, &b, &p, 1, &c2, 2, "EUR").await;
    let d3 = deal(&w, &b, &p, 1, &c1, 3, "EUR").await;
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = call(&w, &b, "GET", "/deals", None).await;
    assert_eq!(
        ids(&all),
        [
            d3["id"].as_str().unwrap(),
            d2["id"].as_str().unwrap(),
            d1["id"].as_str().unwrap()
        ],
        "newest first"
    );
    let pid = p["id"].as_str().unwrap();
    let in_stage = call(
        &w,
        &b,
        "GET",
        &format!("/deals?pipeline_id={pid}&stage_id={}", stage_id(&p, 1)),
        None,
    )
    .await;
    assert_eq!(in_stage.body["items"].as_array().unwrap().len(), 2);
    let of_contact = call(&w, &b, "GET", &format!("/deals?contact_id={c1}"), None).await;
    let mut got = ids(&of_contact);
    got.sort();
    let mut want = vec![
        d1["id"].as_str().unwrap().to_string(),
        d3["id"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(got, want);
}

/// The board as the statistics give it: (count, totals) per stage.
fn figures(board: &Value) -> Vec<(u64, Value)> {
    board["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| (s["count"].as_u64().expect("count"), s["totals"].clone()))
        .collect()
}

#[tokio::test]
async fn board_counts_follow_every_deal_change_exactly() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    let other = call(
        &w,
        &b,
        "POST",
        "/pipelines",
        Some(json!({"name": "Referrals", "stages": [{"name": "New", "probability": 10}]})),
    )
    .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let a = deal(&w, &b, &p, 0, &c, 1_000, "EUR").await;
    let d = deal(&w, &b, &p, 0, &c, 500, "EUR").await;
    deal(&w, &b, &p, 1, &c, 0, "USD").await;
    let board_of = |id: String| {
        let path = format!("/pipelines/{id}/board");
        let (w, b) = (&w, &b);
        async move {
            let reply = call(w, b, "GET", &path, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            figures(&reply.body)
        }
    };
    let pid = p["id"].as_str().unwrap().to_string();
    let oid = other.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        board_of(pid.clone()).await,
        [
            (2, json!([{"currency": "EUR", "value": 1_500}])),
            // A deal of value 0 still shows its currency, as a full count did.
            (1, json!([{"currency": "USD", "value": 0}])),
            (0, json!([]))
        ]
    );
    // A new value and currency, a move to another stage, to another
    // pipeline, and a delete: every column follows.
    let moved = call(
        &w,
        &b,
        "PATCH",
        &format!("/deals/{}", a["id"].as_str().unwrap()),
        Some(json!({"value": 2_000, "currency": "USD", "stage_id": stage_id(&p, 2)})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let away = call(
        &w,
        &b,
        "PATCH",
        &format!("/deals/{}", d["id"].as_str().unwrap()),
        Some(json!({"pipeline_id": oid})),
    )
    .await;
    assert_eq!(away.status, StatusCode::OK, "{}", away.body);
    assert_eq!(
        board_of(pid.clone()).await,
        [
            (0, json!([])),
            (1, json!([{"currency": "USD", "value": 0}])),
            (1, json!([{"currency": "USD", "value": 2_000}]))
        ]
    );
    assert_eq!(
        board_of(oid.clone()).await,
        [(1, json!([{"currency": "EUR", "value": 500}]))]
    );
    let deleted = call(&w, &b, "DELETE", &format!("/deals/{}", a["id"].as_str().unwrap()), None).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    assert_eq!(board_of(pid).await[2], (0, json!([])));
}

#[tokio::test]
async fn a_pipeline_older_than_its_statistics_is_counted_once_then_read_from_them() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    for value in [100, 200, 300] {
        deal(&w, &b, &p, 1, &c, value, "EUR").await;
    }
    // As a pipeline made by an earlier release: no statistics item.
    let org_id = org_of(&w, &b).await;
    let pid = p["id"].as_str().unwrap();
    w.state
        .table
        .delete(
            &pipelines::stats_key(&OrgId::from(&org_id), &PipelineId::from(pid)),
            None,
        )
        .await
        .expect("delete");
    // A change before the first view only counts itself (incomplete).
    deal(&w, &b, &p, 1, &c, 400, "EUR").await;
    let counting = CountingTable::new(w.state.table.clone());
    let counts = counting.counts();
    let board = pipelines::board(&counting, &OrgId::from(&org_id), &PipelineId::from(pid), 2)
        .await
        .expect("board");
    assert_eq!(board.stages[1].count, 4, "counted from the deals");
    assert_eq!(board.stages[1].totals[0].value, 1_000);
    assert_eq!(board.stages[1].deals.len(), 2);
    let first = counts.snapshot();
    assert_eq!(
        (first.query, first.put),
        (1, 1),
        "one read of the deals, the statistics stored"
    );
    // From now on the statistics answer: no read of the deals beyond a page per stage.
    let board = pipelines::board(&counting, &OrgId::from(&org_id), &PipelineId::from(pid), 2)
        .await
        .expect("board");
    let second = counts.snapshot();
    assert_eq!((second.query - first.query, second.put - first.put), (3, 0));
    assert_eq!(board.stages[1].count, 4);
    assert_eq!(board.stages[1].totals[0].value, 1_000);
    assert_eq!(board.stages[1].deals.len(), 2);
    deal(&w, &b, &p, 1, &c, 1, "EUR").await;
    let board = pipelines::board(&counting, &OrgId::from(&org_id), &PipelineId::from(pid), 2)
        .await
        .expect("board");
    assert_eq!((board.stages[1].count, board.stages[1].totals[0].value), (5, 1_001));
}

#[tokio::test]
async fn counting_an_older_pipeline_stores_nothing_when_a_deal_changed_meanwhile() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let c = contact(&w, &b, "ann@example.com").await;
    let p = pipeline(&w, &b).await;
    deal(&w, &b, &p, 0, &c, 100, "EUR").await;
    let org_id = org_of(&w, &b).await;
    let pid = p["id"].as_str().unwrap();
    let key = pipelines::stats_key(&OrgId::from(&org_id), &PipelineId::from(pid));
    w.state.table.delete(&key, None).await.expect("delete");
    deal(&w, &b, &p, 0, &c, 200, "EUR").await;
    // The board read the statistics (one change counted), then a change
    // commits before the count is stored: the count is not stored.
    let stats = w.state.table.get(&key).await.expect("get").expect("partial statistics");
    assert_eq!(stats["writes"], 1);
    assert_eq!(stats.get("complete"), None);
    w.state
        .table
        .update(&key, konnecs::ports::Update::default().add("writes", 1), None)
        .await
        .expect("a concurrent change");
    let racing = RaceBeforePut {
        inner: w.state.table.clone(),
        stale: stats,
    };
    let board = pipelines::board(&racing, &OrgId::from(&org_id), &PipelineId::from(pid), 10)
        .await
        .expect("board");
    assert_eq!(board.stages[0].count, 2, "this view still answers from its count");
    let stored = w.state.table.get(&key).await.expect("get").expect("statistics");
    assert_eq!(
        stored.get("complete"),
        None,
        "not marked complete over a change it may have missed"
    );
    // The next view counts again and completes them.
    pipelines::board(
        w.state.table.as_ref(),
        &OrgId::from(&org_id),
        &PipelineId::from(pid),
        10,
    )
    .await
    .expect("board");
    let stored = w.state.table.get(&key).await.expect("get").expect("statistics");
    assert_eq!(stored["complete"], true);
}

/// Answers the statistics as they were before a concurrent change (the
/// board's batch read happened first); everything else goes through.
struct RaceBeforePut {
    inner: std::sync::Arc<dyn konnecs::ports::Table>,
    stale: konnecs::ports::Item,
}

#[async_trait::async_trait]
impl konnecs::ports::Table for RaceBeforePut {
    async fn get(&self, key: &konnecs::ports::Key) -> Result<Option<konnecs::ports::Item>, konnecs::ports::StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(
        &self,
        keys: &[konnecs::ports::Key],
    ) -> Result<Vec<konnecs::ports::Item>, konnecs::ports::StoreError> {
        let stale_key = konnecs::ports::Key::of(&self.stale);
        let mut items: Vec<konnecs::ports::Item> = self
            .inner
            .batch_get(keys)
            .await?
            .into_iter()
            .filter(|item| konnecs::ports::Key::of(item) != stale_key)
            .collect();
        items.push(self.stale.clone());
        Ok(items)
    }
    async fn put(
        &self,
        item: konnecs::ports::Item,
        condition: Option<konnecs::ports::Condition>,
    ) -> Result<(), konnecs::ports::StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &konnecs::ports::Key,
        update: konnecs::ports::Update,
        condition: Option<konnecs::ports::Condition>,
    ) -> Result<konnecs::ports::Item, konnecs::ports::StoreError> {
        self.inner.update(key, update, condition).await
    }
    async fn delete(
        &self,
        key: &konnecs::ports::Key,
        condition: Option<konnecs::ports::Condition>,
    ) -> Result<Option<konnecs::ports::Item>, konnecs::ports::StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &konnecs::ports::Query) -> Result<konnecs::ports::Page, konnecs::ports::StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<konnecs::ports::WriteOp>) -> Result<(), konnecs::ports::StoreError> {
        self.inner.transact(ops).await
    }
    async fn batch_write(&self, ops: Vec<konnecs::ports::BatchOp>) -> Result<(), konnecs::ports::StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn ping(&self) -> Result<(), konnecs::ports::StoreError> {
        self.inner.ping().await
    }
}
