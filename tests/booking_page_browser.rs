//! End to end in headless Chromium (WebDriver through chromedriver on
//! loopback): the real `konnecs-local` binary, an account and an event type
//! made through the API, a booking made through the public page on a
//! phone-sized window, then the confirmation (with its .ics) and the SMS in
//! `/dev/outbox.json`, and a cancel through the manage page.
//!
//! Needs `chromium` and `chromium-driver` (installed by `infra/test-tools.sh`);
//! without them the test fails, it never skips.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use konnecs_tests::chrome::{CHROMIUM_FLAGS, ChromeDriver, find_binary};
use konnecs_tests::local::LocalServer;
use konnecs_tests::page::wait_for_outbox;
use serde_json::{Value, json};

/// A signed-in API client: the session cookies and the CSRF token.
struct Api {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn signup(base: &str) -> Self {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/auth/signup"))
            .json(&json!({
                "name": "Dana Whitfield",
                "email": "dana@whitfield-dental.example",
                "password": "molar-crown-42-bridge",
                "business_name": "Whitfield Dental",
            }))
            .send()
            .await
            .expect("signup");
        assert_eq!(response.status().as_u16(), 201);
        let cookie = response
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        let body: Value = response.json().await.expect("json");
        Self {
            http,
            base: base.to_string(),
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf token").to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

fn ics_of(message: &Value) -> String {
    let attachment = &message["attachments"][0];
    assert!(
        attachment["content_type"]
            .as_str()
            .unwrap_or_default()
            .starts_with("text/calendar")
    );
    String::from_utf8(
        STANDARD
            .decode(attachment["content_base64"].as_str().expect("content"))
            .expect("base64"),
    )
    .expect("utf-8")
}

#[tokio::test]
async fn a_visitor_books_through_the_page_in_headless_chromium_and_gets_the_confirmation_with_its_ics() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = LocalServer::start(data.path());
    let base = server.base_url.clone();

    // The business: account, availability every day, an event type.
    let api = Api::signup(&base).await;
    let org = api.call(reqwest::Method::GET, "/org", None).await;
    let org_slug = org["slug"].as_str().expect("org slug").to_string();
    let all_day = json!([{"start": "00:00", "end": "24:00"}]);
    let schedule = api
        .call(
            reqwest::Method::POST,
            "/schedules",
            Some(json!({
                "name": "Every day",
                "time_zone": "Europe/London",
                "weekly": {"monday": all_day, "tuesday": all_day, "wednesday": all_day, "thursday": all_day,
                           "friday": all_day, "saturday": all_day, "sunday": all_day},
            })),
        )
        .await;
    api.call(
        reqwest::Method::POST,
        "/event-types",
        Some(json!({
            "title": "Cleaning <b>& polish</b>",
            "slug": "cleaning",
            "durations": [30],
            "schedule_id": schedule["id"],
            "location": {"kind": "in_person", "address": "12 High St, Leeds"},
        })),
    )
    .await;

    // The visitor, on a phone-sized screen in its own zone (India, +05:30,
    // while the business is in London).
    let driver = ChromeDriver::start_in_zone("Asia/Kolkata");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.push("--window-size=390,844".into());
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
            "args": args,
            // A phone's viewport (desktop windows cannot be narrower than 500 px).
            "mobileEmulation": {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true}},
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("webdriver session");

    let result = async {
        browser
            .goto(&format!("{base}/book/{org_slug}/cleaning"))
            .await
            .expect("open booking page");
        let wait = || browser.wait().at_most(Duration::from_secs(20));
        wait()
            .for_element(Locator::Css("button.day"))
            .await
            .expect("days listed")
            .click()
            .await
            .expect("pick day");
        // The title is text, not markup.
        let title = browser
            .find(Locator::Id("title"))
            .await
            .expect("title")
            .text()
            .await
            .expect("text");
        assert_eq!(title, "Cleaning <b>& polish</b>");
        wait()
            .for_element(Locator::Css("button.time"))
            .await
            .expect("times listed")
            .click()
            .await
            .expect("pick time");
        wait()
            .for_element(Locator::Css("#details:not([hidden]) #name"))
            .await
            .expect("form shown");
        browser
            .find(Locator::Id("name"))
            .await
            .expect("name")
            .send_keys("Ann Lee")
            .await
            .expect("type");
        browser
            .find(Locator::Id("email"))
            .await
            .expect("email")
            .send_keys("ann@example.com")
            .await
            .expect("type");
        browser
            .find(Locator::Id("phone"))
            .await
            .expect("phone")
            .send_keys("+447911123456")
            .await
            .expect("type");
        wait()
            .for_element(Locator::Css("#consentBox:not([hidden]) #consent"))
            .await
            .expect("consent shown once a phone is typed")
            .click()
            .await
            .expect("consent");
        browser
            .find(Locator::Id("submit"))
            .await
            .expect("submit")
            .click()
            .await
            .expect("book");
        let manage = match wait()
            .for_element(Locator::Css("#confirmation:not([hidden]) #manage[href*='token=']"))
            .await
        {
            Ok(manage) => manage,
            Err(err) => {
                let status = browser
                    .find(Locator::Id("status"))
                    .await
                    .expect("status")
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("no confirmation ({err}); the page says: {status:?}");
            }
        };
        let manage_href = manage.prop("href").await.expect("href").expect("a link");
        assert!(manage_href.starts_with(&format!("{base}/booking/")), "{manage_href}");
        let when = browser
            .find(Locator::Id("confirmedWhen"))
            .await
            .expect("when")
            .text()
            .await
            .expect("text");
        // The booking carries the visitor's zone, and the page showed its time there.
        let booking: Value = reqwest::get(manage_href.replacen("/booking/", "/public/bookings/", 1))
            .await
            .expect("booking json")
            .json()
            .await
            .expect("json");
        // (Chromium's ICU still names India's zone by its older IANA alias.)
        let zone = booking["invitee"]["time_zone"].as_str().unwrap_or_default();
        assert!(matches!(zone, "Asia/Kolkata" | "Asia/Calcutta"), "{booking}");
        let start: jiff::Timestamp = booking["start"].as_str().expect("start").parse().expect("time");
        let local = start.to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").expect("zone"));
        let (h24, h12) = (
            local.strftime("%H:%M").to_string(),
            local.strftime("%-I:%M").to_string(),
        );
        assert!(
            when.contains(&h24) || when.contains(&h12),
            "{when:?} shows {start} in Kolkata ({h24})"
        );
        // Nothing overflows a phone-sized screen.
        let fits = browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("script");
        let (content, viewport) = (fits[0].as_i64().unwrap_or(i64::MAX), fits[1].as_i64().unwrap_or(0));
        assert!(
            viewport <= 420 && content <= viewport,
            "content {content}px in a {viewport}px viewport"
        );

        // The confirmation (with its .ics) to the customer and the host, and the SMS.
        let messages = wait_for_outbox(&base, "booking confirmation", |m| {
            m.iter().any(|x| x["kind"] == "booking_booked_customer")
                && m.iter().any(|x| x["kind"] == "booking_booked_host")
                && m.iter().any(|x| x["kind"] == "sms")
        })
        .await;
        let confirmation = messages
            .iter()
            .find(|m| m["kind"] == "booking_booked_customer")
            .expect("confirmation");
        assert_eq!(confirmation["to"], "ann@example.com");
        let ics = ics_of(confirmation);
        assert!(
            ics.contains("METHOD:REQUEST\r\n") && ics.contains("UID:booking-"),
            "{ics}"
        );
        assert!(
            confirmation["mime"]
                .as_str()
                .unwrap_or_default()
                .contains("text/calendar")
        );
        let sms = messages.iter().find(|m| m["kind"] == "sms").expect("sms");
        assert_eq!(sms["to"], "+447911123456");

        // The manage page cancels it; the cancel goes out with METHOD:CANCEL.
        browser.goto(&manage_href).await.expect("open manage page");
        wait()
            .for_element(Locator::Css("#booking:not([hidden]) #cancel"))
            .await
            .expect("manage page")
            .click()
            .await
            .expect("cancel");
        wait()
            .for_element(Locator::XPath("//p[@id='status'][contains(., 'cancelled')]"))
            .await
            .expect("cancelled");
        let messages = wait_for_outbox(&base, "cancel notice", |m| {
            m.iter().any(|x| x["kind"] == "booking_cancelled_customer")
        })
        .await;
        let cancel = messages
            .iter()
            .find(|m| m["kind"] == "booking_cancelled_customer")
            .expect("cancel");
        assert!(ics_of(cancel).contains("METHOD:CANCEL\r\n"));
    }
    .await;
    browser.close().await.expect("close browser");
    drop(server);
    result
}
