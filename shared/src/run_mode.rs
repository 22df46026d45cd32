//! Which mode the local server runs in, decided from its configuration alone
//! (a pure function, so every setup can be tested without binding it).
//!
//! The developer outbox (`/dev/outbox`) shows every email the server would
//! have sent, password-reset links included: whoever can read it can take
//! over any account. So it is served only where nobody but the person at the
//! machine can reach it: a loopback listen address and a public URL that is
//! plain `http://` on a loopback host (the README's first command). Anything
//! else is production: bound beyond loopback (a LAN or the internet), or
//! behind a reverse proxy (a loopback bind whose public URL is another host
//! or `https://`). There mail must go out through a provider, and a server
//! without one refuses to start. Lambdas never mount the outbox at all (its
//! catalogue entries are `Runtime::LocalDevelopment`).

use std::net::SocketAddr;

use crate::domain::host::is_loopback_host;

/// How email leaves the server, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailProvider {
    /// `KONNECS_SMTP_URL`, described without credentials.
    Smtp(String),
    /// `RESEND_API_KEY`.
    Resend,
    /// Neither: mail can only be stored in the outbox.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    /// Mail lands in the outbox, served at `/dev/outbox`.
    Developer,
    /// Mail goes out through the provider; no outbox routes.
    Production { provider: MailProvider },
}

/// The mode and, in words, why: for the start line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeDecision {
    pub mode: RunMode,
    pub reason: String,
}

impl ModeDecision {
    pub fn serves_dev_outbox(&self) -> bool {
        self.mode == RunMode::Developer
    }

    /// `developer` or `production`.
    pub fn name(&self) -> &'static str {
        match self.mode {
            RunMode::Developer => "developer",
            RunMode::Production { .. } => "production",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Konnecs would have no way to send email: {why}. Set KONNECS_SMTP_URL (e.g. \
     smtps://user:password@mail.example.com:465, or smtp://… for STARTTLS on 587) or RESEND_API_KEY. \
     Without them mail lands in the developer outbox (/dev/outbox), which is served only on a loopback listen \
     address with an http:// loopback KONNECS_PUBLIC_URL (e.g. http://127.0.0.1:3000): anyone who \
     can read it can take over any account through a password-reset email."
)]
pub struct NoMailProvider {
    pub why: String,
}

/// Why this setup is reachable by others, or `None` when only this machine
/// can reach it.
fn exposure(addr: &SocketAddr, public_url: &str) -> Option<String> {
    if !addr.ip().is_loopback() {
        return Some(format!(
            "it listens on {addr}, which is not a loopback address, so other machines reach it"
        ));
    }
    let parsed = url::Url::parse(public_url).ok();
    let local_url = parsed
        .as_ref()
        .is_some_and(|url| url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host));
    if local_url {
        None
    } else {
        Some(format!(
            "KONNECS_PUBLIC_URL {public_url} is not an http:// loopback URL, so the server is reached \
             through a reverse proxy"
        ))
    }
}

/// Decides the mode of a server listening on `addr` whose links start with
/// `public_url`, sending mail through `provider`.
pub fn decide(addr: &SocketAddr, public_url: &str, provider: MailProvider) -> Result<ModeDecision, NoMailProvider> {
    let exposure = exposure(addr, public_url);
    let sends = match &provider {
        MailProvider::Smtp(server) => format!("email goes out through SMTP {server}"),
        MailProvider::Resend => "email goes out through Resend".to_string(),
        MailProvider::None => {
            return match exposure {
                Some(why) => Err(NoMailProvider { why }),
                None => Ok(ModeDecision {
                    mode: RunMode::Developer,
                    reason: "it listens on loopback with an http:// loopback KONNECS_PUBLIC_URL and has \
                             no mail provider, so email and SMS land in the outbox"
                        .into(),
                }),
            };
        }
    };
    let outbox_off = match exposure {
        Some(why) => format!("no developer outbox, since {why}"),
        None => "no developer outbox, since a mail provider is configured".to_string(),
    };
    Ok(ModeDecision {
        mode: RunMode::Production { provider },
        reason: format!("{sends}; {outbox_off}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_readme_setup_on_a_fresh_machine_is_developer_mode() {
        for (listen, url) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("127.0.0.1:0", "http://localhost:3000"),
            ("[::1]:3000", "http://[::1]:3000"),
            ("127.0.0.2:3000", "http://127.0.0.1:3000"),
        ] {
            let decision = decide(&addr(listen), url, MailProvider::None).unwrap();
            assert!(decision.serves_dev_outbox(), "{listen} {url}");
            assert_eq!(decision.name(), "developer");
            assert!(decision.reason.contains("outbox"), "{}", decision.reason);
        }
    }

    /// Non-loopback listen addresses cannot be bound in the tests (they bind
    /// 127.0.0.0/8 only), so the decision is tested here: the process-level
    /// tests start the real server in the reverse-proxy setup, which takes
    /// the same path through `decide`.
    #[test]
    fn a_server_others_can_reach_refuses_to_start_without_a_mail_provider() {
        for (listen, url, names) in [
            ("0.0.0.0:3000", "http://127.0.0.1:3000", "0.0.0.0:3000"),
            ("[::]:3000", "http://localhost:3000", "[::]:3000"),
            ("192.168.1.20:3000", "http://192.168.1.20:3000", "192.168.1.20:3000"),
            ("127.0.0.1:3000", "https://crm.example.com", "https://crm.example.com"),
            ("127.0.0.1:3000", "https://127.0.0.1:3000", "https://127.0.0.1:3000"),
            ("127.0.0.1:3000", "http://crm.example.com", "http://crm.example.com"),
            ("127.0.0.1:3000", "http://192.168.1.20", "http://192.168.1.20"),
            ("127.0.0.1:3000", "not a url", "not a url"),
        ] {
            let err = decide(&addr(listen), url, MailProvider::None).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(names), "{listen} {url}: {message}");
            for option in ["KONNECS_SMTP_URL", "RESEND_API_KEY", "smtps://"] {
                assert!(message.contains(option), "{listen} {url}: {message}");
            }
        }
    }

    #[test]
    fn with_a_mail_provider_every_setup_is_production_without_the_outbox() {
        let smtp = MailProvider::Smtp("mail.example.com:465 (implicit TLS, AUTH)".into());
        for (listen, url) in [
            ("0.0.0.0:3000", "http://192.168.1.20:3000"),
            ("127.0.0.1:3000", "https://crm.example.com"),
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
        ] {
            for provider in [smtp.clone(), MailProvider::Resend] {
                let decision = decide(&addr(listen), url, provider.clone()).unwrap();
                assert!(!decision.serves_dev_outbox(), "{listen} {url}");
                assert_eq!(decision.mode, RunMode::Production { provider });
                assert_eq!(decision.name(), "production");
            }
        }
        let decision = decide(&addr("127.0.0.1:3000"), "https://crm.example.com", smtp).unwrap();
        assert!(
            decision.reason.contains("SMTP mail.example.com:465") && decision.reason.contains("reverse proxy"),
            "{}",
            decision.reason
        );
    }
}
