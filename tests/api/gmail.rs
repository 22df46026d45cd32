//! Gmail against the mock Google: a member emails a contact from their own
//! Gmail (a raw RFC 5322 message, UTF-8 safe, from the member's address),
//! logged on the contact's timeline with Gmail's ids, once per send key;
//! refused without Gmail's send access, for a foreign contact or one
//! without an email. Then the reply poll: a reply in a thread Konnecs sent
//! in reaches the timeline once, an unrelated message is not even read,
//! an expired history id resyncs the tracked threads only, and a
//! disconnected mailbox is never called.

use std::sync::Mutex;

use async_trait::async_trait;
use http::StatusCode;
use konnecs::domain::ids::{OrgId, UserId};
use konnecs::ports::StoreError;
use konnecs::services::google::gmail::mailbox_key;
use konnecs::services::google::gmail_replies::{self, ReceivedReply, ReplyHook, TimelineOnly};
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::gmail::{PROFILE_HISTORY_ID, ReadMessage, metadata, not_found, sent_id};
use konnecs_tests::google::{ACCESS_TOKEN, GOOGLE_EMAIL, MockGoogle, param, query_of, with_google};
use konnecs_tests::http::Browser;
use konnecs_tests::on_both_stores;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

const GMAIL_GRANTED: &str = "openid https://www.googleapis.com/auth/userinfo.email \
     https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send";
const CALENDAR_GRANTED: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";
const ZOE: &str = "zoe.angstrom@example.org";
const SUBJECT: &str = "Über Ihre Füllung – nächster Termin ☕";
const BODY: &str = "Hallo Zoë,\n\nGrüße aus der Praxis. Passt Ihnen Donnerstag?\n\nDana";

/// An app with Google at the mock, Dana signed up and connected for `features`.
async fn connected(store: Store, google: &MockGoogle, features: Value) -> (TestApp, Member) {
    let mut app = TestApp::on(store, START).await;
    let state = with_google(&app.state, &google.uri());
    app.replace_state(state);
    let dana = app.sign_up(&app.fresh_email("dana"), "Whitfield Dental").await;
    connect(&app, &dana, features).await;
    (app, dana)
}

async fn connect(app: &TestApp, who: &Member, features: Value) {
    let reply = app
        .send(
            &who.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({ "features": features })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let state = param(&query_of(reply.body["url"].as_str().expect("url")), "state").expect("state");
    let back = app
        .send(
            &who.browser,
            "GET",
            &format!("/app/settings/integrations/google/callback?state={state}&code=4%2F0Aean"),
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
}

async fn contact(app: &TestApp, who: &Member, emails: Value) -> String {
    let reply = app
        .send(
            &who.browser,
            "POST",
            "/contacts",
            Some(&json!({"first_name": "Zoë", "last_name": "Ångström", "emails": emails})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

async fn email(app: &TestApp, who: &Member, contact_id: &str) -> konnecs_tests::http::Reply {
    app.send(
        &who.browser,
        "POST",
        &format!("/contacts/{contact_id}/emails"),
        Some(&json!({"subject": SUBJECT, "body": BODY})),
    )
    .await
}

async fn timeline(app: &TestApp, who: &Member, contact_id: &str) -> Vec<Value> {
    let reply = app
        .send(&who.browser, "GET", &format!("/contacts/{contact_id}/timeline"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["entries"].as_array().cloned().unwrap_or_default()
}

fn of_kind<'a>(entries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["kind"] == kind).collect()
}

async fn an_email_goes_out_raw_from_the_members_gmail_and_lands_on_the_timeline_with_its_ids(store: Store) {
    let google = MockGoogle::start(GMAIL_GRANTED, MockGoogle::refreshed(GMAIL_GRANTED)).await;
    google.accept_sends().await;
    let (app, dana) = connected(store, &google, json!(["gmail"])).await;
    let zoe = contact(&app, &dana, json!([ZOE])).await;

    let reply = email(&app, &dana, &zoe).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["gmail_message_id"], sent_id(1));
    assert_eq!(reply.body["gmail_thread_id"], sent_id(1));
    assert_eq!(reply.body["from"], GOOGLE_EMAIL);

    let sends: Vec<_> = google
        .gmail_requests()
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/messages/send"))
        .collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    let raw = google.sent_raw().await;
    let (text, thread) = &raw[0];
    assert_eq!(thread, &None, "a new conversation names no thread");
    let message = ReadMessage::parse(text);
    let from = message.header("From").expect("From");
    assert!(from.contains(GOOGLE_EMAIL) && from.contains("Dana Whitfield"), "{from}");
    let to = message.header("To").expect("To");
    assert!(to.contains(ZOE) && to.contains("Zoë Ångström"), "{to}");
    assert_eq!(message.header("Subject"), Some(SUBJECT));
    let date = message.header("Date").expect("Date");
    assert!(date.contains("Nov 2026"), "the clock's date: {date}");
    let message_id = message.header("Message-ID").expect("Message-ID");
    assert_eq!(message_id, reply.body["rfc_message_id"].as_str().expect("rfc id"));
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@gmail.com>"),
        "{message_id}"
    );
    assert!(message.header("In-Reply-To").is_none() && message.header("References").is_none());
    assert_eq!(message.body.trim_end(), BODY);

    let entries = timeline(&app, &dana, &zoe).await;
    let sent = of_kind(&entries, "email.sent");
    assert_eq!(sent.len(), 1, "{entries:#?}");
    assert_eq!(sent[0]["detail"]["gmail_message_id"], sent_id(1));
    assert_eq!(sent[0]["detail"]["gmail_thread_id"], sent_id(1));
    assert_eq!(sent[0]["detail"]["subject"], SUBJECT);
    assert_eq!(sent[0]["detail"]["to"], ZOE);

    let audit = app.send(&dana.browser, "GET", "/org/audit", None).await;
    assert!(
        audit.body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["action"] == "contact.email_sent" && e["target"] == format!("contact:{zoe}")),
        "{}",
        audit.body
    );
}

on_both_stores!(
    an_email_goes_out_raw_from_the_members_gmail_and_lands_on_the_timeline_with_its_ids,
    a_reply_in_a_tracked_thread_reaches_the_timeline_once_and_other_mail_is_not_read,
);

#[tokio::test]
async fn without_gmails_send_access_the_member_is_told_where_to_switch_it_on_and_nothing_is_sent() {
    let google = MockGoogle::start(CALENDAR_GRANTED, MockGoogle::refreshed(CALENDAR_GRANTED)).await;
    google.accept_sends().await;
    let (app, dana) = connected(Store::Sqlite, &google, json!(["calendar"])).await;
    let zoe = contact(&app, &dana, json!([ZOE])).await;
    let reply = email(&app, &dana, &zoe).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "google_scope_missing");
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Settings → Integrations")),
        "{}",
        reply.body
    );
    // A colleague who never connected is told to connect.
    let colleague = app
        .join(&dana, &app.fresh_email("sam"), konnecs::domain::role::Role::Member)
        .await;
    let reply = email(&app, &colleague, &zoe).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "google_not_connected");
    assert!(google.gmail_requests().await.is_empty());
    assert!(of_kind(&timeline(&app, &dana, &zoe).await, "email.sent").is_empty());
}

#[tokio::test]
async fn another_organizations_contact_is_404_and_a_contact_without_email_is_a_field_error() {
    let google = MockGoogle::start(GMAIL_GRANTED, MockGoogle::refreshed(GMAIL_GRANTED)).await;
    google.accept_sends().await;
    let (app, dana) = connected(Store::Sqlite, &google, json!(["gmail"])).await;
    let other = app.sign_up(&app.fresh_email("lee"), "Harbour Physio").await;
    connect(&app, &other, json!(["gmail"])).await;
    let zoe = contact(&app, &dana, json!([ZOE])).await;
    let reply = email(&app, &other, &zoe).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);

    let nameless = contact(&app, &dana, json!([])).await;
    let reply = email(&app, &dana, &nameless).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["field"], "to");
    assert_eq!(reply.body["errors"][0]["code"], "no_email");

    let blank = app
        .send(
            &dana.browser,
            "POST",
            &format!("/contacts/{zoe}/emails"),
            Some(&json!({"subject": " ", "body": ""})),
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", blank.body);
    let fields: Vec<&str> = blank.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["subject", "body"]);
    assert!(google.gmail_requests().await.is_empty(), "nothing reached Gmail");
}

/// A form post as a browser without JavaScript sends it (the hidden `_csrf`).
async fn post_form(
    app: &TestApp,
    who: &Member,
    path: &str,
    fields: &[(&str, &str)],
    htmx: bool,
) -> konnecs_tests::http::Reply {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("_csrf", who.browser.csrf.as_deref().unwrap_or_default());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let mut request = Browser {
        csrf: None,
        ..who.browser.clone()
    }
    .request("POST", path, None);
    let headers = request.headers_mut();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    headers.insert("host", "konnecs.test".parse().expect("header"));
    headers.insert("origin", "http://konnecs.test".parse().expect("header"));
    headers.insert("sec-fetch-site", "same-origin".parse().expect("header"));
    if htmx {
        headers.insert("hx-request", "true".parse().expect("header"));
    }
    *request.body_mut() = axum::body::Body::from(form.finish());
    app.request(request).await
}

fn html(reply: &konnecs_tests::http::Reply) -> String {
    String::from_utf8_lossy(&reply.bytes).into_owned()
}

/// The `send_key` of the compose form on a record page.
fn send_key(page: &str) -> String {
    let at = page.find("name=\"send_key\" value=\"").expect("the form's send key") + 23;
    page[at..].split('"').next().expect("value").to_owned()
}

#[tokio::test]
async fn the_record_page_composes_posts_redirects_and_a_double_submit_sends_once() {
    let google = MockGoogle::start(GMAIL_GRANTED, MockGoogle::refreshed(GMAIL_GRANTED)).await;
    google.accept_sends().await;
    let (app, dana) = connected(Store::Sqlite, &google, json!(["gmail"])).await;
    let zoe = contact(&app, &dana, json!([ZOE])).await;
    let record = format!("/app/contacts/{zoe}");
    let page = app.send(&dana.browser, "GET", &record, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = html(&page);
    assert!(
        text.contains("Email from Gmail") && text.contains(GOOGLE_EMAIL),
        "{text}"
    );
    let key = send_key(&text);

    // A refused form comes back with its words and the field's error.
    let path = format!("{record}/email");
    let refused = post_form(
        &app,
        &dana,
        &path,
        &[("subject", ""), ("body", BODY), ("send_key", &key)],
        false,
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = html(&refused);
    assert!(
        text.contains("Write a subject.") && text.contains("aria-invalid=\"true\""),
        "{text}"
    );
    assert!(text.contains("Passt Ihnen Donnerstag?"), "the message is kept");
    // htmx swaps only successes: it gets the same part with a 200.
    let swapped = post_form(
        &app,
        &dana,
        &path,
        &[("subject", ""), ("body", BODY), ("send_key", &key)],
        true,
    )
    .await;
    assert_eq!(swapped.status, StatusCode::OK);
    assert!(html(&swapped).contains("Write a subject."));
    assert!(google.gmail_requests().await.is_empty());

    // Sent: back to the record, where it is on the timeline.
    let fields = [("subject", SUBJECT), ("body", BODY), ("send_key", key.as_str())];
    let sent = post_form(&app, &dana, &path, &fields, false).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", html(&sent));
    assert_eq!(sent.headers["location"], format!("{record}?notice=email-sent"));
    // The same form sent again (a double click, a resubmit): no second email.
    let again = post_form(&app, &dana, &path, &fields, false).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(google.sent_raw().await.len(), 1, "one email for one form");
    let entries = timeline(&app, &dana, &zoe).await;
    assert_eq!(of_kind(&entries, "email.sent").len(), 1);
    let after = html(
        &app.send(&dana.browser, "GET", &format!("{record}?notice=email-sent"), None)
            .await,
    );
    assert!(after.contains(&format!("Email sent: {SUBJECT}")), "{after}");
    assert_ne!(send_key(&after), key, "each form shown sends once, on its own key");

    // A form without its CSRF token is refused before anything is sent.
    let mut forged = dana.clone();
    forged.browser.csrf = Some("forged".into());
    let forged = post_form(&app, &forged, &path, &fields, false).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(google.sent_raw().await.len(), 1);
}

/// Records what the poll tells the sequences.
#[derive(Default)]
struct Told(Mutex<Vec<ReceivedReply>>);

#[async_trait]
impl ReplyHook for Told {
    async fn reply_received(&self, reply: &ReceivedReply) -> Result<(), StoreError> {
        self.0.lock().expect("lock").push(reply.clone());
        Ok(())
    }
}

const REPLY_ID: &str = "18c5f0a1b2c3e001";
const UNRELATED_ID: &str = "18c5f0a1b2c3e777";
const UNRELATED_THREAD: &str = "18c5f0a1b2c3e700";

fn zoes_reply(id: &str, thread: &str) -> Value {
    metadata(
        id,
        thread,
        &["INBOX", "UNREAD", "CATEGORY_PERSONAL"],
        &[
            ("From", "Zoë Ångström <zoe.angstrom@example.org>"),
            ("Subject", &format!("Re: {SUBJECT}")),
            ("Date", "Thu, 19 Nov 2026 10:12:00 +0000"),
            ("Message-ID", "<CAF=zoe-reply@mail.example.org>"),
        ],
        1_795_000_000_000,
    )
}

fn history(added: &[(&str, &str)], history_id: &str) -> ResponseTemplate {
    let records: Vec<Value> = added
        .iter()
        .enumerate()
        .map(|(n, (id, thread))| {
            json!({
                "id": format!("{}", 9010 + n),
                "messages": [{"id": id, "threadId": thread}],
                "messagesAdded": [{"message": {"id": id, "threadId": thread, "labelIds": ["INBOX", "UNREAD"]}}],
            })
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"history": records, "historyId": history_id}))
}

async fn stored_history_id(app: &TestApp, who: &Member) -> Option<String> {
    let key = mailbox_key(&OrgId::from(who.org_id.as_str()), &UserId::from(who.user_id.as_str()));
    let item = app.state.table.get(&key).await.expect("get")?;
    Some(
        item.get("history_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn set_history_id(app: &TestApp, who: &Member, history_id: &str) {
    let key = mailbox_key(&OrgId::from(who.org_id.as_str()), &UserId::from(who.user_id.as_str()));
    app.state
        .table
        .update(
            &key,
            konnecs::ports::Update::default().set("history_id", history_id),
            None,
        )
        .await
        .expect("update");
}

/// Dana emailed Zoë (thread `sent_id(1)`) and the first poll has read
/// the thread (only her own message in it) and taken Gmail's history id.
async fn after_first_poll(store: Store) -> (MockGoogle, TestApp, Member, String) {
    let google = MockGoogle::start(GMAIL_GRANTED, MockGoogle::refreshed(GMAIL_GRANTED)).await;
    google.accept_sends().await;
    google.serve_profile().await;
    let (app, dana) = connected(store, &google, json!(["gmail"])).await;
    let zoe = contact(&app, &dana, json!([ZOE])).await;
    assert_eq!(email(&app, &dana, &zoe).await.status, StatusCode::CREATED);
    let ours = metadata(&sent_id(1), &sent_id(1), &["SENT"], &[("From", GOOGLE_EMAIL)], 1);
    google.serve_thread(&sent_id(1), vec![ours]).await;
    let summary = gmail_replies::poll(&app.state, &TimelineOnly).await.expect("poll");
    assert_eq!(
        (summary.mailboxes, summary.resyncs, summary.replies),
        (1, 1, 0),
        "{summary:?}"
    );
    assert_eq!(
        stored_history_id(&app, &dana).await.as_deref(),
        Some(PROFILE_HISTORY_ID)
    );
    (google, app, dana, zoe)
}

async fn a_reply_in_a_tracked_thread_reaches_the_timeline_once_and_other_mail_is_not_read(store: Store) {
    let (google, app, dana, zoe) = after_first_poll(store).await;
    let thread = sent_id(1);
    google
        .serve_history(
            PROFILE_HISTORY_ID,
            history(&[(REPLY_ID, &thread), (UNRELATED_ID, UNRELATED_THREAD)], "9050"),
        )
        .await;
    google.serve_history("9050", history(&[], "9050")).await;
    google.serve_message(REPLY_ID, zoes_reply(REPLY_ID, &thread)).await;
    google
        .serve_message(UNRELATED_ID, zoes_reply(UNRELATED_ID, UNRELATED_THREAD))
        .await;

    let told = Told::default();
    let summary = gmail_replies::poll(&app.state, &told).await.expect("poll");
    assert_eq!(
        (summary.replies, summary.resyncs, summary.failed),
        (1, 0, 0),
        "{summary:?}"
    );
    assert_eq!(
        google.message_gets().await,
        [REPLY_ID],
        "only the tracked thread's message is read"
    );
    let get = google
        .gmail_requests()
        .await
        .into_iter()
        .find(|r| r.url.path().ends_with(REPLY_ID))
        .expect("the get");
    let query: Vec<(String, String)> = get.url.query_pairs().into_owned().collect();
    assert_eq!(
        param(&query, "format").as_deref(),
        Some("metadata"),
        "headers, never the body"
    );
    assert!(param(&query, "fields").is_some_and(|f| !f.contains("snippet")));
    assert_eq!(stored_history_id(&app, &dana).await.as_deref(), Some("9050"));
    {
        let told = told.0.lock().expect("lock");
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].gmail_message_id, REPLY_ID);
        assert_eq!(told[0].contact_id.as_str(), zoe.as_str());
    }
    let entries = timeline(&app, &dana, &zoe).await;
    let replies = of_kind(&entries, "email.reply_received");
    assert_eq!(replies.len(), 1, "{entries:#?}");
    assert_eq!(replies[0]["detail"]["gmail_message_id"], REPLY_ID);
    assert_eq!(replies[0]["detail"]["gmail_thread_id"], thread);
    assert_eq!(replies[0]["detail"]["from"], "Zoë Ångström <zoe.angstrom@example.org>");

    // The same history again (a poll that stopped before saving its place,
    // or two polls at once): nothing twice, the reply not even fetched again.
    set_history_id(&app, &dana, PROFILE_HISTORY_ID).await;
    let (first, second) = tokio::join!(
        gmail_replies::poll(&app.state, &TimelineOnly),
        gmail_replies::poll(&app.state, &TimelineOnly),
    );
    assert_eq!(first.expect("poll").replies + second.expect("poll").replies, 0);
    assert_eq!(google.message_gets().await.len(), 1);
    assert_eq!(
        of_kind(&timeline(&app, &dana, &zoe).await, "email.reply_received").len(),
        1
    );
}

#[tokio::test]
async fn an_expired_history_id_resyncs_the_tracked_threads_only_and_starts_again_from_gmails_id() {
    let (google, app, dana, zoe) = after_first_poll(Store::Sqlite).await;
    set_history_id(&app, &dana, "42").await;
    google.serve_history("42", not_found()).await;
    let thread = sent_id(1);
    // The thread now holds Dana's email and Zoë's reply.
    let ours = metadata(&thread, &thread, &["SENT"], &[("From", GOOGLE_EMAIL)], 1);
    google
        .reset_thread(&thread, vec![ours, zoes_reply(REPLY_ID, &thread)])
        .await;
    let before = google.gmail_requests().await.len();

    let summary = gmail_replies::poll(&app.state, &TimelineOnly).await.expect("poll");
    assert_eq!((summary.resyncs, summary.replies), (1, 1), "{summary:?}");
    assert_eq!(
        stored_history_id(&app, &dana).await.as_deref(),
        Some(PROFILE_HISTORY_ID)
    );
    let calls: Vec<String> = google.gmail_requests().await[before..]
        .iter()
        .map(|r| r.url.path().rsplit("/users/me/").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        calls,
        ["history", "profile", &format!("threads/{thread}")],
        "the profile, then the one tracked thread; nothing else of the mailbox"
    );
    let replies = of_kind(&timeline(&app, &dana, &zoe).await, "email.reply_received")
        .into_iter()
        .map(|e| e["detail"]["gmail_message_id"].clone())
        .collect::<Vec<_>>();
    assert_eq!(replies, [json!(REPLY_ID)]);
}

#[tokio::test]
async fn a_disconnected_mailbox_is_never_called_again() {
    let (google, app, dana, _zoe) = after_first_poll(Store::Sqlite).await;
    let reply = app.send(&dana.browser, "DELETE", "/integrations/google", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let before = google.requests().await.len();
    let summary = gmail_replies::poll(&app.state, &TimelineOnly).await.expect("poll");
    assert_eq!((summary.mailboxes, summary.skipped), (1, 1), "{summary:?}");
    assert_eq!(google.requests().await.len(), before, "no call after a disconnect");
    assert_eq!(stored_history_id(&app, &dana).await, None, "the mailbox left the poll");
    let summary = gmail_replies::poll(&app.state, &TimelineOnly).await.expect("poll");
    assert_eq!(summary.mailboxes, 0);
    assert_eq!(google.requests().await.len(), before);
}

#[tokio::test]
async fn a_reply_sent_as_the_member_names_its_parent_and_stays_in_gmails_thread() {
    use konnecs::ports::member_mailer::{MemberEmail, MemberMailer, ReplyContext};
    use konnecs::services::google::gmail::GmailMemberMailer;
    let google = MockGoogle::start(GMAIL_GRANTED, MockGoogle::refreshed(GMAIL_GRANTED)).await;
    google.accept_sends().await;
    let (app, dana) = connected(Store::Sqlite, &google, json!(["gmail"])).await;
    let mailer = GmailMemberMailer { state: &app.state };
    let email = MemberEmail {
        to_address: ZOE.into(),
        to_name: Some("Zoë Ångström".into()),
        subject: format!("Re: {SUBJECT}"),
        text: "Donnerstag um 10 Uhr passt.".into(),
        reply_to: Some(ReplyContext {
            thread_id: "18c5f0a1b2c3e100".into(),
            message_id: "<CAF=zoe-reply@mail.example.org>".into(),
            references: vec!["<first@gmail.com>".into()],
        }),
    };
    let sent = mailer
        .send_as(
            &OrgId::from(dana.org_id.as_str()),
            &UserId::from(dana.user_id.as_str()),
            &email,
        )
        .await
        .expect("sent");
    assert_eq!(sent.thread_id, "18c5f0a1b2c3e100", "Gmail kept the conversation");
    let raw = google.sent_raw().await;
    let (text, thread) = &raw[0];
    assert_eq!(thread.as_deref(), Some("18c5f0a1b2c3e100"));
    let message = ReadMessage::parse(text);
    assert_eq!(message.header("In-Reply-To"), Some("<CAF=zoe-reply@mail.example.org>"));
    assert_eq!(
        message.header("References"),
        Some("<first@gmail.com> <CAF=zoe-reply@mail.example.org>")
    );
    assert_eq!(message.header("Message-ID"), Some(sent.rfc_message_id.as_str()));
    assert_eq!(message.body.trim_end(), "Donnerstag um 10 Uhr passt.");
}

#[tokio::test]
async fn a_broken_connection_sends_nothing_and_its_mailbox_is_not_polled() {
    let (google, app, dana, zoe) = after_first_poll(Store::Sqlite).await;
    let key = konnecs::services::google::connection_key(
        &OrgId::from(dana.org_id.as_str()),
        &UserId::from(dana.user_id.as_str()),
    );
    app.state
        .table
        .update(
            &key,
            konnecs::ports::Update::default()
                .set("status", "broken")
                .set("broken_reason", "Google refused"),
            None,
        )
        .await
        .expect("break");
    let before = google.requests().await.len();
    let summary = gmail_replies::poll(&app.state, &TimelineOnly).await.expect("poll");
    assert_eq!((summary.mailboxes, summary.skipped), (1, 1), "{summary:?}");
    let reply = email(&app, &dana, &zoe).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "google_connection_broken");
    assert_eq!(google.requests().await.len(), before, "no call for a broken connection");
}
