//! Integration credentials of a Lambda: at cold start a function reads the
//! secrets its catalogue entry declares (`Access::Secret`), once, and no
//! other; what the environment says about integrations does not count on
//! AWS. A secret still holding the stack's placeholder leaves its
//! integration unset, so email and SMS go to the outbox exactly as locally.

use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::config::AppConfig;
use crate::ports::secrets::{Integration, SecretError, SecretStore};

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("environment variable {0} (the secret's ARN) is required")]
    MissingSecretId(&'static str),
    #[error(transparent)]
    Store(#[from] SecretError),
    /// Names the integration and the problem, never a value.
    #[error("the {integration} secret is invalid: {reason}")]
    Invalid { integration: &'static str, reason: String },
}

/// Replaces every integration's credentials in `app` with those of the
/// declared secrets, read from `store` by the ids `secret_id` gives (the
/// ARNs in the function's environment); undeclared integrations are unset.
/// Returns the declared integrations whose secret holds the placeholder.
pub async fn load_declared(
    app: &mut AppConfig,
    declared: &[Integration],
    store: &dyn SecretStore,
    secret_id: impl Fn(Integration) -> Option<String>,
) -> Result<Vec<Integration>, IntegrationError> {
    let mut ids = Vec::with_capacity(declared.len());
    for integration in declared {
        let id = secret_id(*integration).ok_or(IntegrationError::MissingSecretId(integration.secret_id_env()))?;
        ids.push(id);
    }
    // Concurrently: each read is a round trip in the cold start's path.
    let texts = futures::future::try_join_all(ids.iter().map(|id| store.read(id))).await?;
    let mut unset = Vec::new();
    for integration in Integration::ALL {
        let fields = match declared.iter().position(|d| *d == integration) {
            Some(index) => parse_fields(integration, texts[index].expose_secret())?,
            None => Map::new(),
        };
        app.set_integration(integration, |field| fields.get(field)?.as_str().map(str::to_owned))
            .map_err(|err| IntegrationError::Invalid {
                integration: integration.as_str(),
                reason: err.to_string(),
            })?;
        if declared.contains(&integration) && !app.has_integration(integration) {
            unset.push(integration);
        }
    }
    Ok(unset)
}

/// A secret's JSON object. Errors name the field; serde's messages are not
/// passed on, since a type error can quote the value it met.
fn parse_fields(integration: Integration, text: &str) -> Result<Map<String, Value>, IntegrationError> {
    let invalid = |reason: String| IntegrationError::Invalid {
        integration: integration.as_str(),
        reason,
    };
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid("not a JSON object".into()));
    };
    for (name, _) in integration.fields() {
        match fields.get(*name) {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err(invalid(format!("field {name} is not a string"))),
        }
    }
    Ok(fields)
}

/// The placeholder the stack stores: every field of the integration, empty.
pub fn placeholder(integration: Integration) -> String {
    let fields: Map<String, Value> = integration
        .fields()
        .iter()
        .map(|(name, _)| ((*name).to_owned(), Value::String(String::new())))
        .collect();
    Value::Object(fields).to_string()
}

/// What an unset integration means for the function, for its start log line.
pub fn fallback(integration: Integration) -> &'static str {
    match integration {
        Integration::Resend => "email goes to the outbox",
        Integration::Twilio => "SMS goes to the outbox",
        Integration::Stripe => "billing is off",
        Integration::Google => "Google sign-in and calendars are off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use async_trait::async_trait;
    use secrecy::SecretString;

    struct Fixed(HashMap<String, String>);

    #[async_trait]
    impl SecretStore for Fixed {
        async fn read(&self, id: &str) -> Result<SecretString, SecretError> {
            self.0
                .get(id)
                .map(|text| SecretString::from(text.clone()))
                .ok_or_else(|| SecretError::NotFound(id.into()))
        }
    }

    fn id(integration: Integration) -> Option<String> {
        Some(format!("arn:{}", integration.as_str()))
    }

    #[tokio::test]
    async fn declared_secrets_replace_the_environment_and_placeholders_stay_unset() {
        let store = Fixed(HashMap::from([
            ("arn:resend".into(), r#"{"api_key":"re_live_1"}"#.into()),
            ("arn:twilio".into(), placeholder(Integration::Twilio)),
        ]));
        let mut app = AppConfig::for_tests();
        // Undeclared: whatever the environment said is dropped.
        app.set_integration(Integration::Stripe, |_| Some("sk_env".into()))
            .expect("both fields");
        let unset = load_declared(&mut app, &[Integration::Resend, Integration::Twilio], &store, id)
            .await
            .expect("loads");
        assert_eq!(unset, vec![Integration::Twilio]);
        assert_eq!(
            app.resend_api_key.as_ref().map(|key| key.expose_secret().to_owned()),
            Some("re_live_1".into())
        );
        assert!(app.twilio.is_none());
        assert!(app.stripe.is_none());
    }

    #[tokio::test]
    async fn a_partial_or_malformed_secret_is_refused_without_its_value() {
        let store = Fixed(HashMap::from([(
            "arn:twilio".into(),
            r#"{"account_sid":"AC1","auth_token":"tok-secret-9","from":""}"#.into(),
        )]));
        let err = load_declared(&mut AppConfig::for_tests(), &[Integration::Twilio], &store, id)
            .await
            .expect_err("partial");
        assert!(err.to_string().contains("TWILIO_FROM"), "{err}");
        assert!(!err.to_string().contains("tok-secret-9"));

        let store = Fixed(HashMap::from([("arn:resend".into(), r#"{"api_key":12345}"#.into())]));
        let err = load_declared(&mut AppConfig::for_tests(), &[Integration::Resend], &store, id)
            .await
            .expect_err("not a string");
        assert!(!err.to_string().contains("12345"), "{err}");
    }

    #[tokio::test]
    async fn a_declared_secret_without_its_arn_is_a_start_error() {
        let store = Fixed(HashMap::new());
        let err = load_declared(&mut AppConfig::for_tests(), &[Integration::Resend], &store, |_| None)
            .await
            .expect_err("no ARN");
        assert!(err.to_string().contains("RESEND_SECRET_ARN"), "{err}");
    }
}
