//! The AWS `SecretStore`: Secrets Manager's `GetSecretValue`, called once per
//! cold start for each secret the function declared.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secrecy::SecretString;

use crate::ports::secrets::{SecretError, SecretStore};

pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn read(&self, id: &str) -> Result<SecretString, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|err| secret_error(id, err))?;
        // The stack stores text (JSON); a binary secret is not one of ours.
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| SecretError::Unavailable(format!("secret {id} holds no text")))
    }
}

/// Keeps the id and the service's error code; a value never reaches an error.
fn secret_error<E, R>(id: &str, err: SdkError<E, R>) -> SecretError
where
    E: ProvideErrorMetadata,
{
    match &err {
        SdkError::ServiceError(failure) => match failure.err().code() {
            Some("ResourceNotFoundException") => SecretError::NotFound(id.to_string()),
            code => SecretError::Unavailable(format!(
                "Secrets Manager error {} for {id}",
                code.unwrap_or("without code")
            )),
        },
        SdkError::TimeoutError(_) => SecretError::Unavailable("Secrets Manager timed out".into()),
        SdkError::DispatchFailure(_) => SecretError::Unavailable("Secrets Manager unreachable".into()),
        _ => SecretError::Unavailable("Secrets Manager request failed".into()),
    }
}
