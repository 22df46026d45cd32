//! Headless Chromium through chromedriver on loopback, for the page tests.
//!
//! Needs `chromium` and `chromium-driver` (installed by `infra/test-tools.sh`);
//! without them a test fails, it never skips.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

pub fn find_binary(candidates: &[&str]) -> String {
    for candidate in candidates {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    panic!("none of {candidates:?} exists: install chromium and chromium-driver (`bash infra/test-tools.sh` does)");
}

/// chromedriver on a free loopback port; killed when dropped.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
}

impl ChromeDriver {
    /// Chromedriver, and the browsers it starts, in the IANA zone `zone`.
    pub fn start_in_zone(zone: &str) -> Self {
        let binary = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        // Port 0: chromedriver binds a free port itself and names it, so no
        // other process can take it between a pick and the bind.
        let mut child = Command::new(binary)
            .env("TZ", zone)
            .arg("--port=0")
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let stdout = child.stdout.take().expect("stdout");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
                if let Some(port) = port {
                    let _ = port_tx.send(port);
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromedriver named its port within 60 s");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session in a phone-sized viewport (`width` × `height` CSS
/// pixels, touch), with its own profile directory (kept by the caller).
pub async fn phone_session(driver: &ChromeDriver, profile: &std::path::Path, width: u32, height: u32) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push(format!("--window-size={width},{height}"));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
            "args": args,
            // Desktop windows cannot be narrower than 500 px: emulate the phone.
            "mobileEmulation": {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}},
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("webdriver session")
}
