//! The self-hosted `Mailer`: any SMTP submission server, through lettre's
//! async transport over rustls. Configured by one URL
//! (`KONNECS_SMTP_URL`):
//!
//! - `smtp://user:password@host[:port]`: STARTTLS, required (port 587);
//! - `smtps://user:password@host[:port]`: TLS from the first byte (port 465);
//! - `smtp://host:port?tls=none`: plain SMTP, accepted only for a relay on
//!   this machine (a loopback host), where nothing crosses a network.
//!
//! User and password are optional (AUTH is used when given) and
//! percent-encoded in the URL; the password is a secret, never logged.

use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use sha2::{Digest, Sha256};

use crate::config::{SmtpSecurity, SmtpSettings};
use crate::ports::mailer::{Email, MailError, Mailer};

/// Each command's timeout: a send must fit in a jobs batch (`BATCH_TIME`).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
    /// Domain of the `Message-ID`s: the sender's.
    id_domain: String,
}

impl SmtpMailer {
    /// `extra_roots` (PEM) are trusted beside the public web roots (tests
    /// trust their own CA this way); `hello` is the EHLO name.
    pub fn new(
        settings: &SmtpSettings,
        from: String,
        hello: Option<String>,
        extra_roots: &[Vec<u8>],
    ) -> Result<Self, String> {
        let tls_parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            for pem in extra_roots {
                builder = builder.add_root_certificate(
                    Certificate::from_pem(pem).map_err(|err| format!("root certificate: {err}"))?,
                );
            }
            builder.build_rustls().map_err(|err| format!("TLS setup: {err}"))
        };
        let tls = match settings.security {
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT));
        if let Some(hello) = hello {
            builder = builder.hello_name(ClientId::Domain(hello));
        }
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        let id_domain = from
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('>').trim().to_string())
            .filter(|domain| !domain.is_empty())
            .unwrap_or_else(|| "konnecs.invalid".into());
        Ok(Self {
            transport: builder.build(),
            from,
            id_domain,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    /// SMTP has no idempotency keys: the `Message-ID` is derived from the
    /// key, so a copy sent again after a lost reply carries the same id and
    /// mail clients show it once.
    async fn send(&self, email: &Email, idempotency_key: &str) -> Result<(), MailError> {
        let key_hash = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
        let message_id = format!("<{}@{}>", &key_hash[..32], self.id_domain);
        let message = super::mime::message(&self.from, email, Some(message_id))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) => Err(classify(&err)),
        }
    }
}

/// RFC 5321 §4.2.1: a 4xx reply is transient (try again later), a 5xx reply
/// permanent (this message will not be accepted). Everything short of a
/// reply (connection, network, TLS, timeout) is worth another try.
fn classify(err: &lettre::transport::smtp::Error) -> MailError {
    let detail = format!("smtp: {err}").chars().take(300).collect::<String>();
    if err.is_permanent() {
        MailError::Rejected(detail)
    } else {
        MailError::Unavailable(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_protection_port_and_credentials() {
        let s = SmtpSettings::from_url("smtps://ops%40acme.example:p%3Ass%2Fword@mail.acme.example").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("mail.acme.example", 465, SmtpSecurity::ImplicitTls)
        );
        assert_eq!(s.username.as_deref(), Some("ops@acme.example"));
        assert_eq!(s.password.as_ref().map(|p| p.expose_secret()), Some("p:ss/word"));

        let s = SmtpSettings::from_url("smtp://user:pw@mail.acme.example").unwrap();
        assert_eq!((s.port, s.security), (587, SmtpSecurity::StartTls));
        let s = SmtpSettings::from_url("smtp://mail.acme.example:2525?tls=starttls").unwrap();
        assert_eq!((s.port, s.security, s.username), (2525, SmtpSecurity::StartTls, None));

        let s = SmtpSettings::from_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((s.port, s.security), (2525, SmtpSecurity::None));
        assert!(SmtpSettings::from_url("smtp://localhost?tls=none").is_ok());
        assert!(SmtpSettings::from_url("smtp://[::1]:25?tls=none").is_ok());
    }

    #[test]
    fn unsafe_or_unclear_urls_are_refused_without_repeating_the_password() {
        for url in [
            "smtp://user:hunter2@mail.acme.example?tls=none",
            "smtp://user:hunter2@10.0.0.5:25?tls=none",
            "smtps://user:hunter2@mail.acme.example?tls=none",
            "http://user:hunter2@mail.acme.example",
            "smtp://user:hunter2@mail.acme.example?tsl=none",
            "smtp://user:hunter2@mail.acme.example/path",
            "smtp://:hunter2@mail.acme.example",
            "smtp://hunter2@mail.acme.example",
            "smtp://user:hunter2@",
            "not a url hunter2",
        ] {
            let err = SmtpSettings::from_url(url).expect_err(url);
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn debug_and_describe_show_no_password() {
        let s = SmtpSettings::from_url("smtps://ops:hunter2@mail.acme.example").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.describe(), "mail.acme.example:465 (implicit TLS, AUTH)");
    }
}
