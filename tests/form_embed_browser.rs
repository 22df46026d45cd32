//! Embedded forms end to end in headless Chromium on a 375 px phone screen,
//! against the real `konnecs-local` binary: a business signs up, adds a
//! webhook endpoint in Settings → Webhooks (on a receiver on 127.0.0.1; the
//! signing secret read off the page that shows it once), builds a form in
//! the builder (fields added, one moved up with the keyboard and one
//! dragged; the preview follows typing before a save), copies its embed
//! snippets, and a static page on another origin (a second loopback port)
//! embeds it twice: by the one-line script, which sizes its iframe from the
//! form's height, and by the iframe snippet. Visitors submit in both; then
//! the contacts, their timeline entries, the submissions table, the alerts
//! in the outbox and the signed `form.submitted` webhooks are checked, each
//! signature by the receiver's own HMAC. Last, the form gets a redirect
//! address, and a send in the script's frame takes the embedding page
//! there. The builder and the hosted form have no horizontal scroll and no
//! serious or critical axe-core violation (axe-core 4.11.0, vendored under
//! tests/vendor).
//!
//! Every wait is for a condition, bounded; none is a fixed sleep.

use fantoccini::{Client, Locator};
use konnecs_tests::chrome::{ChromeDriver, phone_session};
use konnecs_tests::local::LocalServer;
use konnecs_tests::page::{PHONE_WIDTH, check_page, click, fill, open_all_details, wait_for_outbox, wait_until};
use konnecs_tests::webhook_receiver::{Call, Receiver, signature_is_valid};
use serde_json::Value;

async fn eval(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect("script")
}

/// The builder's field names in order.
async fn field_order(browser: &Client) -> Vec<String> {
    let keys = eval(
        browser,
        "return Array.from(document.querySelectorAll('#field-list li[data-key]')).map(li => li.dataset.key);",
    )
    .await;
    keys.as_array()
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The receiver's calls once there are `count`, polled for at most 30 s
/// (the local server's jobs worker delivers them).
async fn wait_for_webhooks(receiver: &Receiver, count: usize) -> Vec<Call> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let calls = receiver.calls();
        if calls.len() >= count {
            return calls;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {count} webhooks within 30 s",
            calls.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A static page on its own loopback port (another origin than the app).
async fn embedding_site(pages: Vec<(&'static str, String)>) -> (String, tokio::task::JoinHandle<()>) {
    let mut router = axum::Router::new();
    for (path, html) in pages {
        router = router.route(
            path,
            axum::routing::get(move || async move { axum::response::Html(html) }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://127.0.0.1:{}", addr.port()), task)
}

/// In the form's frame: waits until the page is old enough for a person to
/// have filled it (the server's minimum fill time, read from the page's own
/// render stamp), fills it in and sends it; waits for the thanks.
async fn fill_and_send(browser: &Client, name: &str, email: &str) {
    wait_until(
        browser,
        "the form in the frame",
        "return !!document.querySelector('input[name=rendered]');",
    )
    .await;
    fill(browser, "f-name", name).await;
    fill(browser, "f-email", email).await;
    click(browser, "#f-topic-1").await;
    click(browser, "#f-news").await;
    wait_until(
        browser,
        "the minimum fill time",
        "const s = document.querySelector('input[name=rendered]').value; return Date.now() - parseInt(s.split('.')[0], 10) > 4000;",
    )
    .await;
    click(browser, "form.form-public button[type='submit']").await;
    wait_until(
        browser,
        "the thanks",
        "return document.body.innerText.includes('Thanks! We will call you back today.');",
    )
    .await;
}

#[tokio::test]
async fn a_form_built_in_the_builder_is_embedded_on_another_site_by_script_and_iframe_and_submitted_there() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = LocalServer::start(data.path());
    let base = server.base_url.clone();
    let driver = ChromeDriver::start_in_zone("Europe/London");
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = phone_session(&driver, profile.path(), PHONE_WIDTH, 800).await;

    let result = async {
        browser.goto(&format!("{base}/sign-up")).await.expect("sign-up");
        fill(&browser, "name", "Dana Whitfield").await;
        fill(&browser, "business_name", "Whitfield Dental").await;
        fill(&browser, "email", "dana@whitfield-dental.example").await;
        fill(&browser, "password", "molar-crown-42-bridge").await;
        click(&browser, "form[action='/sign-up'] button[type='submit']").await;
        wait_until(&browser, "the app", "return location.pathname === '/app';").await;

        // Settings → Webhooks: an endpoint for form.submitted on a local
        // receiver; its signing secret is on the answer page, this once.
        let receiver = Receiver::start(&[], 200).await;
        browser
            .goto(&format!("{base}/app/settings/webhooks"))
            .await
            .expect("webhooks");
        wait_until(
            &browser,
            "the webhooks page",
            "return location.pathname === '/app/settings/webhooks' && document.readyState === 'complete';",
        )
        .await;
        fill(&browser, "url", &receiver.url).await;
        click(&browser, "input[name=events][value='form.submitted']").await;
        click(&browser, "form[action='/app/settings/webhooks'] button[type='submit']").await;
        wait_until(
            &browser,
            "the signing secret",
            "return !!document.getElementById('secret');",
        )
        .await;
        let secret = eval(&browser, "return document.getElementById('secret').value;").await;
        let secret = secret.as_str().expect("secret").to_string();
        assert!(secret.starts_with("whsec_"), "{secret}");

        // The builder: a new form, with a choice, a consent, reordered.
        browser.goto(&format!("{base}/app/forms")).await.expect("forms");
        wait_until(
            &browser,
            "the forms page",
            "return location.pathname === '/app/forms' && document.readyState === 'complete';",
        )
        .await;
        fill(&browser, "new-title", "Request a call back").await;
        click(&browser, "form[action='/app/forms'] button[type='submit']").await;
        wait_until(
            &browser,
            "the builder",
            "return /^\\/app\\/forms\\/[0-9a-f]+$/.test(location.pathname) && document.readyState === 'complete';",
        )
        .await;
        let builder_url = browser.current_url().await.expect("url").to_string();
        let builder_path = builder_url.split('?').next().unwrap_or_default().to_string();

        let add_field = |kind: &'static str, key: &'static str, label: &'static str, extra: &'static str| {
            let browser = browser.clone();
            async move {
                eval(
                    &browser,
                    "document.querySelectorAll('details').forEach(d => d.open = true); return true;",
                )
                .await;
                eval(
                    &browser,
                    &format!("document.getElementById('add-kind').value = '{kind}'; return true;"),
                )
                .await;
                fill(&browser, "add-label", label).await;
                fill(&browser, "add-key", key).await;
                if !extra.is_empty() {
                    let target = if kind == "consent" {
                        "add-consent_text"
                    } else {
                        "add-options"
                    };
                    let field = browser.find(Locator::Id(target)).await.expect("extra field");
                    field.clear().await.expect("clear");
                    field.send_keys(extra).await.expect("type");
                }
                if kind == "consent" {
                    eval(
                        &browser,
                        "document.getElementById('add-consent_channel').value = 'email'; return true;",
                    )
                    .await;
                }
                click(
                    &browser,
                    "details form:has(input[name=action][value=add]) button[type=submit]",
                )
                .await;
                wait_until(
                    &browser,
                    "the field added",
                    &format!("return !!document.querySelector('#field-list li[data-key={key}]');"),
                )
                .await;
            }
        };
        add_field("single_select", "topic", "What is it about?", "Check-up\nWhitening").await;
        add_field("consent", "news", "News", "Send me occasional news by email.").await;
        assert_eq!(field_order(&browser).await, ["name", "email", "topic", "news"]);
        open_all_details(&browser).await;
        check_page(&browser, "builder").await;

        // Keyboard: Enter on "Move up" of the choice field.
        browser
            .find(Locator::Css("#field-list li[data-key=topic] button[value=up]"))
            .await
            .expect("move up")
            .send_keys("\u{E007}")
            .await
            .expect("press Enter");
        wait_until(&browser, "topic moved up", "return Array.from(document.querySelectorAll('#field-list li[data-key]')).map(li => li.dataset.key).join() === 'name,topic,email,news';").await;

        // Drag: the consent dragged above the email (the builder's own drag script).
        eval(
            &browser,
            r#"const list = document.getElementById('field-list');
const item = list.querySelector('li[data-key=news]'), target = list.querySelector('li[data-key=email]');
const dt = new DataTransfer();
item.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
const box = target.getBoundingClientRect();
target.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt, clientY: box.top + 1}));
target.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
item.dispatchEvent(new DragEvent('dragend', {bubbles: true, dataTransfer: dt}));
return true;"#,
        )
        .await;
        wait_until(&browser, "the dragged order saved", "return document.readyState === 'complete' && document.body.innerText.includes('Form saved') && Array.from(document.querySelectorAll('#field-list li[data-key]')).map(li => li.dataset.key).join() === 'name,topic,news,email';").await;

        // The preview follows typing in a field's settings, before a save.
        open_all_details(&browser).await;
        fill(&browser, "topic-help", "Pick the closest one").await;
        wait_until(
            &browser,
            "the preview following the typing",
            "return document.getElementById('preview').innerText.includes('Pick the closest one');",
        )
        .await;

        // Settings: the thank-you message.
        eval(
            &browser,
            "document.querySelectorAll('details').forEach(d => d.open = true); return true;",
        )
        .await;
        fill(&browser, "thank_you_message", "Thanks! We will call you back today.").await;
        click(
            &browser,
            "form:has(input[name=action][value=settings]) button[type=submit]",
        )
        .await;
        wait_until(&browser, "settings saved", "return document.body.innerText.includes('Form saved') && document.getElementById('thank_you_message').value.includes('call you back today');").await;
        // The preview follows: the consent's words are shown in it.
        assert_eq!(
            eval(
                &browser,
                "return document.getElementById('preview').innerText.includes('Send me occasional news by email.');"
            )
            .await,
            Value::Bool(true)
        );

        let script = eval(&browser, "return document.getElementById('embed-script').value;").await;
        let iframe = eval(&browser, "return document.getElementById('embed-iframe').value;").await;
        let hosted = eval(&browser, "return document.getElementById('embed-link').value;").await;
        let (script, iframe, hosted) = (
            script.as_str().expect("script").to_string(),
            iframe.as_str().expect("iframe").to_string(),
            hosted.as_str().expect("hosted").to_string(),
        );
        assert!(
            script.contains("data-form=") && iframe.starts_with("<iframe"),
            "{script} {iframe}"
        );
        // The snippets name the configured public address (KONNECS_PUBLIC_URL,
        // 127.0.0.1:3000 by default); this server listens on a free port.
        let configured = hosted.split("/f/").next().expect("public address").to_string();
        let (script, iframe, hosted) = (
            script.replace(&configured, &base),
            iframe.replace(&configured, &base),
            hosted.replace(&configured, &base),
        );

        // The hosted form itself on the phone.
        browser.goto(&hosted).await.expect("hosted form");
        wait_until(
            &browser,
            "the hosted form",
            "return !!document.querySelector('form.form-public');",
        )
        .await;
        open_all_details(&browser).await;
        check_page(&browser, "hosted form").await;

        // Another origin embeds it, by script and by iframe.
        let page = |body: &str| {
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Whitfield Dental</title></head><body><h1>Call us back</h1>{body}</body></html>"
            )
        };
        // The redirect page records where the embed script sends the page
        // and stops it there (the Navigation API's navigate event), so the
        // https address need not exist.
        let watcher = "<script>window.konnecsWentTo = null; navigation.addEventListener('navigate', function (e) { window.konnecsWentTo = e.destination.url; e.preventDefault(); });</script>";
        let (site, site_task) = embedding_site(vec![
            ("/script.html", page(&script)),
            ("/iframe.html", page(&iframe)),
            ("/redirect.html", page(&format!("{watcher}{script}"))),
        ])
        .await;
        assert_ne!(site, base);

        browser
            .goto(&format!("{site}/script.html?utm_source=partner-site"))
            .await
            .expect("script page");
        wait_until(
            &browser,
            "the script's iframe",
            "return !!document.querySelector('iframe[data-konnecs-form]');",
        )
        .await;
        browser.enter_frame(0).await.expect("enter the form's frame");
        wait_until(
            &browser,
            "the form in the script's iframe",
            "return !!document.querySelector('form.form-public') && document.readyState === 'complete';",
        )
        .await;
        let content = eval(
            &browser,
            "return Math.ceil(document.body.getBoundingClientRect().height);",
        )
        .await;
        let content = content.as_i64().expect("height");
        assert_ne!(
            content, 480,
            "the form happens to be as tall as the default: the sizing would prove nothing"
        );
        browser.enter_parent_frame().await.expect("leave the frame");
        // The embed script sized its iframe to what the form reported.
        wait_until(
            &browser,
            "the script's iframe sized to the form",
            &format!(
                "return document.querySelector('iframe[data-konnecs-form]').style.height === '{}px';",
                content.clamp(100, 20000)
            ),
        )
        .await;
        browser.enter_frame(0).await.expect("enter the form's frame");
        fill_and_send(&browser, "Maya Okafor", "maya@example.com").await;
        browser.enter_parent_frame().await.expect("leave the frame");

        browser.goto(&format!("{site}/iframe.html")).await.expect("iframe page");
        wait_until(&browser, "the iframe", "return !!document.querySelector('iframe');").await;
        browser.enter_frame(0).await.expect("enter the iframe");
        fill_and_send(&browser, "Tom Berg", "tom@example.com").await;
        browser.enter_parent_frame().await.expect("leave the frame");

        // The alerts, once each, to the member (the form names no recipients).
        let messages = wait_for_outbox(&base, "two form alerts", |m| {
            m.iter().filter(|m| m["kind"] == "form_submission").count() >= 2
        })
        .await;
        let alerts: Vec<&Value> = messages.iter().filter(|m| m["kind"] == "form_submission").collect();
        assert_eq!(alerts.len(), 2, "{alerts:#?}");
        assert!(alerts.iter().all(
            |m| m["to"] == "dana@whitfield-dental.example" && m["subject"] == "New submission: Request a call back"
        ));

        // The submissions table, the attribution, the contacts and their timelines.
        browser
            .goto(&format!("{builder_path}/submissions"))
            .await
            .expect("submissions");
        wait_until(
            &browser,
            "two submissions",
            "return document.querySelectorAll('#submissions tbody tr').length === 2;",
        )
        .await;
        let form_id = builder_path.rsplit('/').next().expect("form id").to_string();
        let listed = browser
            .execute_async(
                &format!("const done = arguments[arguments.length - 1]; fetch('/forms/{form_id}/submissions').then(r => r.json()).then(done, e => done(String(e)));"),
                vec![],
            )
            .await
            .expect("fetch");
        let items = listed["items"].as_array().expect("items").clone();
        let maya = items
            .iter()
            .find(|s| s["answers"]["email"] == "maya@example.com")
            .expect("Maya's submission");
        assert_eq!(maya["attribution"]["utm_source"], "partner-site", "{maya}");
        assert!(
            maya["attribution"]["page_url"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{site}/script.html")),
            "{maya}"
        );
        assert_eq!(maya["consents"][0]["text"], "Send me occasional news by email.");

        // One signed webhook per submission, each verified by the receiver's
        // own HMAC over `id.timestamp.body` with the secret the page showed.
        let calls = wait_for_webhooks(&receiver, 2).await;
        assert_eq!(calls.len(), 2, "one webhook per submission");
        for call in &calls {
            assert!(signature_is_valid(&secret, call), "the receiver verifies {call:?}");
            let mut forged = call.clone();
            forged.body.push(b' ');
            assert!(!signature_is_valid(&secret, &forged), "an altered body fails the check");
        }
        let mut delivered: Vec<(String, String, String)> = calls
            .iter()
            .map(|call| {
                let body = call.json();
                assert_eq!(body["type"], "form.submitted", "{body}");
                assert_eq!(body["data"]["form_id"], form_id.as_str(), "{body}");
                (
                    call.header("webhook-id").to_string(),
                    body["data"]["submission_id"].as_str().unwrap_or_default().to_string(),
                    body["data"]["answers"]["email"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        delivered.sort_by(|a, b| a.2.cmp(&b.2));
        let mut submitted: Vec<(String, String, String)> = items
            .iter()
            .map(|s| {
                let id = s["id"].as_str().expect("submission id").to_string();
                (
                    format!("form.submitted:{id}"),
                    id,
                    s["answers"]["email"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        submitted.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(
            delivered, submitted,
            "the webhooks carry the submissions made in the browser"
        );

        let contact = maya["contact_id"].as_str().expect("contact").to_string();
        click(&browser, &format!("a[href='/app/contacts/{contact}']")).await;
        wait_until(&browser, "Maya's record with the form entry", "return document.querySelector('h1') && document.querySelector('h1').innerText === 'Maya Okafor' && document.body.innerText.includes('Form submitted: Request a call back');").await;

        // A redirect address: after a send in the script's frame, the frame
        // asks the embed script to take the embedding page there.
        browser.goto(&builder_path).await.expect("builder");
        wait_until(
            &browser,
            "the builder",
            "return document.readyState === 'complete' && !!document.getElementById('redirect_url');",
        )
        .await;
        open_all_details(&browser).await;
        fill(&browser, "redirect_url", "https://www.whitfield-dental.example/thanks").await;
        click(
            &browser,
            "form:has(input[name=action][value=settings]) button[type=submit]",
        )
        .await;
        wait_until(&browser, "the redirect saved", "return document.body.innerText.includes('Form saved') && document.getElementById('redirect_url').value === 'https://www.whitfield-dental.example/thanks';").await;
        browser
            .goto(&format!("{site}/redirect.html"))
            .await
            .expect("redirect page");
        wait_until(
            &browser,
            "the script's iframe",
            "return !!document.querySelector('iframe[data-konnecs-form]');",
        )
        .await;
        browser.enter_frame(0).await.expect("enter the form's frame");
        fill_and_send(&browser, "Ana Lima", "ana@example.com").await;
        assert_eq!(
            eval(&browser, "return document.getElementById('form-continue').target;").await,
            Value::String("_top".into()),
            "the thanks page links the top window onwards (where no embed script listens)"
        );
        browser.enter_parent_frame().await.expect("leave the frame");
        wait_until(
            &browser,
            "the embedding page sent to the form's address",
            "return window.konnecsWentTo === 'https://www.whitfield-dental.example/thanks';",
        )
        .await;
        site_task.abort();
    };
    result.await;
    let _ = browser.close().await;
    drop(server);
}
