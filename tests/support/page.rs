//! Steps the browser tests share: bounded waits, filling and clicking by
//! locator, and the check every page gets (it fits a phone's width and
//! axe-core finds nothing serious or critical).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;

/// The phone the pages are checked on (CSS pixels).
pub const PHONE_WIDTH: u32 = 375;

const AXE: &str = include_str!("../vendor/axe-core-4.11.0.min.js");

/// Waits, bounded, until `script` (a function body returning a boolean) is
/// true; on timeout the panic shows where the browser is and what it shows.
pub async fn wait_until(browser: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = browser.execute(script, vec![]).await.expect("script");
        if done == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let url = browser.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let text = browser
                .execute(
                    "return document.body ? document.body.innerText + ' | ' + document.body.innerHTML.slice(0, 1500) : '';",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            panic!("{what}: not within 20 s at {url}; the page says {text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page fits the phone's width, and axe-core finds nothing serious.
pub async fn check_page(browser: &Client, name: &str) {
    let fits = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("script");
    let (content, viewport) = (fits[0].as_i64().unwrap_or(i64::MAX), fits[1].as_i64().unwrap_or(0));
    assert_eq!(viewport, i64::from(PHONE_WIDTH), "{name}: the viewport is the phone's");
    assert!(
        content <= viewport,
        "{name}: content {content}px wide in a {viewport}px viewport"
    );
    browser.execute(AXE, vec![]).await.expect("inject axe-core");
    let found = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))
  .catch(e => done([{id: 'axe-error', help: String(e)}]));"#,
            vec![],
        )
        .await
        .expect("axe run");
    assert_eq!(found, Value::Array(Vec::new()), "{name}: accessibility violations");
}

/// Opens every `<details>` on the page, so a check sees what they hold.
pub async fn open_all_details(browser: &Client) {
    browser
        .execute(
            "document.querySelectorAll('details').forEach(d => d.open = true);",
            vec![],
        )
        .await
        .expect("open details");
}

/// Types `text` into the field with `id`, replacing what it held.
pub async fn fill(browser: &Client, id: &str, text: &str) {
    let field = browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

pub async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The local server's developer outbox (`/dev/outbox.json`) once `found`
/// accepts it, polled for at most 30 s.
pub async fn wait_for_outbox(base: &str, what: &str, found: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outbox: Value = reqwest::get(format!("{base}/dev/outbox.json?limit=200"))
            .await
            .expect("outbox")
            .json()
            .await
            .expect("outbox JSON");
        let messages = outbox["messages"].as_array().cloned().unwrap_or_default();
        if found(&messages) {
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in the outbox within 30 s: {messages:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
