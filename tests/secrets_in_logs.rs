//! No password, token, session id, cookie value or integration secret ever
//! reaches a log line. Captures every log line (down to TRACE, the AWS SDK's
//! included) while the account flows run and a Lambda start reads its
//! secrets from Secrets Manager (the moto emulator), then searches the
//! capture for each secret used. Its own binary: it installs the
//! process-wide subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use konnecs::adapters::aws::secrets_manager::SecretsManagerStore;
use konnecs::app::local_state;
use konnecs::catalogue;
use konnecs::config::{AppConfig, LocalConfig, SmtpSettings};
use konnecs::inbound::http::router;
use konnecs::ports::SystemClock;
use konnecs::ports::secrets::Integration;
use konnecs_tests::aws;
use konnecs_tests::http::Browser;
use konnecs_tests::local::{drain_jobs, temp_state, token_from_outbox};
use konnecs_tests::smtp::{Mode, SmtpServer};
use secrecy::ExposeSecret;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn account_flows_and_secret_loading_log_no_secret_token_session_id_or_cookie() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only test in this binary");

    let (state, _dir) = temp_state();
    let app = router(state.clone(), catalogue::entries());
    let password = "molar-crown-42-bridge";
    let new_password = "new-molar-crown-43-bridge";
    let newest_password = "newest-molar-crown-44";
    let email = "dana@whitfield-dental.example";
    let mut secrets: Vec<String> = vec![password.into(), new_password.into(), newest_password.into()];

    let signup = json!({"name": "Dana", "email": email, "password": password, "business_name": "Whitfield Dental"});
    let reply = Browser::anonymous()
        .send(&app, "POST", "/auth/signup", Some(&signup))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let browser = Browser::from_reply(&reply);
    assert!(
        browser.session.is_some() && browser.csrf.is_some(),
        "the sign-up signed in"
    );
    secrets.extend(browser.session.clone());
    secrets.extend(browser.csrf.clone());

    let verify = token_from_outbox(&state, email, "/verify-email").await;
    secrets.push(verify.clone());
    assert_eq!(
        Browser::anonymous()
            .send(&app, "POST", "/auth/verify-email", Some(&json!({"token": verify})))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let wrong = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/auth/login",
            Some(&json!({"email": email, "password": "wrong-password-99"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    secrets.push("wrong-password-99".into());
    let login = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/auth/login",
            Some(&json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let second = Browser::from_reply(&login);
    assert!(second.session.is_some() && second.csrf.is_some(), "the login signed in");
    secrets.extend(second.session.clone());
    secrets.extend(second.csrf.clone());

    let forgot = Browser::anonymous()
        .send(&app, "POST", "/auth/password/forgot", Some(&json!({"email": email})))
        .await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED, "{}", forgot.body);
    let reset = token_from_outbox(&state, email, "/reset-password").await;
    secrets.push(reset.clone());
    let reply = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/auth/password/reset",
            Some(&json!({"token": reset, "password": new_password})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let relogin = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/auth/login",
            Some(&json!({"email": email, "password": new_password})),
        )
        .await;
    assert_eq!(relogin.status, StatusCode::OK, "{}", relogin.body);
    let third = Browser::from_reply(&relogin);
    assert!(third.session.is_some() && third.csrf.is_some(), "the login signed in");
    secrets.extend(third.session.clone());
    secrets.extend(third.csrf.clone());
    let change = json!({"current_password": new_password, "new_password": newest_password});
    assert_eq!(
        third.send(&app, "PATCH", "/me", Some(&change)).await.status,
        StatusCode::OK
    );
    // A request with a stale cookie and a bogus CSRF header is logged too.
    let mut stale = browser.clone();
    stale.csrf = Some("bogus-csrf-value-123".into());
    secrets.push("bogus-csrf-value-123".into());
    // The reset ended that session, so it is refused before its CSRF header is read.
    let refused = stale.send(&app, "POST", "/auth/logout", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let out = third.send(&app, "POST", "/auth/logout", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);

    // A Lambda start reading its integration secrets (real values).
    let resend_key = "re_live_log_check_4242";
    let twilio_token = "tw-auth-token-log-check-4242";
    let client = aws_sdk_secretsmanager::Client::new(&aws::sdk_config().await);
    let mut arns = std::collections::HashMap::new();
    for (integration, text) in [
        (Integration::Resend, format!(r#"{{"api_key":"{resend_key}"}}"#)),
        (
            Integration::Twilio,
            format!(r#"{{"account_sid":"AC77","auth_token":"{twilio_token}","from":"+15005550006"}}"#),
        ),
    ] {
        let created = client
            .create_secret()
            .name(aws::unique_name("secret"))
            .secret_string(text)
            .send()
            .await
            .expect("secret created on the emulator");
        arns.insert(integration, created.arn.expect("an ARN"));
    }
    let mut lambda_config = AppConfig::for_tests();
    konnecs::lambda::load_secrets(
        "jobs-worker",
        &[Integration::Resend, Integration::Twilio],
        &SecretsManagerStore::new(client),
        |integration| arns.get(&integration).cloned(),
        &mut lambda_config,
    )
    .await
    .expect("secrets load");
    assert_eq!(
        lambda_config
            .resend_api_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        Some(resend_key.to_owned())
    );
    secrets.push(resend_key.into());
    secrets.push(twilio_token.into());

    // Mail through SMTP with AUTH, configured by a URL that holds the
    // password: delivered once, refused once (a wrong password: the server
    // answers 535 and the job fails, logged); the configuration logged too.
    let smtp_password = "smtp-hunter-secret-42";
    secrets.push(smtp_password.into());
    let server = SmtpServer::start(Mode::Plain, Some(("konnecs", smtp_password)));
    for (password, delivered) in [(smtp_password, 1), ("wrong-smtp-password-77", 1)] {
        secrets.push(password.into());
        let dir = tempfile::tempdir().unwrap();
        let mut config = LocalConfig::for_tests(dir.path().to_path_buf());
        let url = format!("smtp://konnecs:{password}@127.0.0.1:{}?tls=none", server.port);
        config.app.smtp = Some(SmtpSettings::from_url(&url).expect("SMTP URL"));
        tracing::info!(config = ?config, "configuration");
        let state = local_state(&config, Arc::new(SystemClock)).expect("state");
        let app = router(state.clone(), catalogue::entries());
        let signup = json!({"name": "Sam", "email": "sam@whitfield-dental.example", "password": new_password, "business_name": "Whitfield"});
        let reply = Browser::anonymous()
            .send(&app, "POST", "/auth/signup", Some(&signup))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        drain_jobs(&state).await;
        assert_eq!(server.received().len(), delivered, "only the right password delivers");
    }

    // Billing: a checkout through Stripe's API (a mock) with the secret key,
    // and webhooks signed with the signing secret whose payloads carry card
    // details; neither secret nor any card field is logged.
    let stripe_key = "sk_live_log_check_4242";
    let stripe_whsec = "whsec_log_check_4242";
    secrets.push(stripe_key.into());
    secrets.push(stripe_whsec.into());
    let card_fields = [
        "4000056655665556",
        "Fp9LogCardFingerprint",
        "exp_month",
        "last4",
        "1 Molar Street",
    ];
    {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let stripe = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/customers"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_LogCheck"})))
            .mount(&stripe)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"url": "https://checkout.stripe.com/c/pay/cs_log"})),
            )
            .mount(&stripe)
            .await;
        let (state, _dir) = temp_state();
        let mut config = (*state.config).clone();
        config.stripe = Some(konnecs::config::StripeConfig {
            secret_key: stripe_key.to_string().into(),
            webhook_signing_secret: stripe_whsec.to_string().into(),
        });
        config.stripe_base_url = stripe.uri();
        config
            .plans
            .plan_mut(konnecs::domain::billing::PlanName::Starter)
            .expect("plan")
            .price_id = Some("price_LogCheck".into());
        tracing::info!(config = ?config, "configuration");
        let state = konnecs::app::AppState {
            payments: konnecs::app::payments(&config),
            config: Arc::new(config),
            ..state
        };
        let app = router(state.clone(), catalogue::entries());
        let signup = json!({"name": "Dana", "email": "billing@whitfield-dental.example", "password": password, "business_name": "Whitfield"});
        let reply = Browser::anonymous()
            .send(&app, "POST", "/auth/signup", Some(&signup))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let owner = Browser::from_reply(&reply);
        let checkout = owner
            .send(&app, "POST", "/billing/checkout", Some(&json!({"plan": "starter"})))
            .await;
        assert_eq!(checkout.status, StatusCode::CREATED, "{}", checkout.body);
        let now = jiff::Timestamp::now().as_second();
        let invoice = json!({
            "id": "evt_log_card", "object": "event", "created": now, "type": "invoice.payment_failed",
            "data": {"object": {
                "id": "in_log", "object": "invoice", "customer": "cus_LogCheck",
                "charge": {"payment_method_details": {"card": {"number": card_fields[0], "fingerprint": card_fields[1], "exp_month": 4, "last4": "5556"}},
                           "billing_details": {"address": {"line1": card_fields[4]}}}
            }}
        });
        for (body, secret) in [
            (invoice.to_string(), stripe_whsec),
            (invoice.to_string().replace("in_log", "in_forged"), "whsec_wrong"),
        ] {
            let request = http::Request::builder()
                .method("POST")
                .uri("/webhooks/stripe")
                .header("content-type", "application/json")
                .header(
                    "stripe-signature",
                    konnecs::domain::billing::sign(body.as_bytes(), secret, now),
                )
                .body(axum::body::Body::from(body))
                .expect("request");
            let reply = konnecs_tests::http::send(&app, request).await;
            assert!(
                reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST,
                "{}",
                reply.body
            );
        }
        drain_jobs(&state).await;
    }

    // Every flow ran to its end: three passwords tried and set, a wrong one,
    // three sessions with their CSRF tokens, two emailed tokens, a bogus
    // header, two integration secrets, and the SMTP password (listed twice)
    // and a wrong one, and Stripe's secret key and signing secret.
    assert_eq!(secrets.len(), 20, "{secrets:?}");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("GetSecretValue") || logs.contains("secretsmanager"),
        "the SDK's calls were captured too"
    );
    assert!(logs.lines().count() >= 10, "the flows were logged: {logs}");
    assert!(logs.contains("\"message\":\"request\""), "request lines captured");
    assert!(
        logs.contains("SmtpSettings") && logs.contains("REDACTED"),
        "the SMTP configuration was logged, its password redacted"
    );
    assert!(
        logs.contains("job failed permanently"),
        "the refused SMTP login was logged"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs: {secret}");
        // Tokens are stored hashed; their hashes are fine but not the tokens.
    }
    assert!(logs.contains("stripe event applied"), "the webhook was logged");
    for field in card_fields {
        assert!(!logs.contains(field), "card data reached the logs: {field}");
    }
    assert!(
        !logs.contains("__Host-konnecs_session="),
        "a cookie header reached the logs"
    );
}
