//! The People API's `people.connections.list` for the `GoogleOAuth`
//! adapter: https://developers.google.com/people/api/rest/v1/people.connections/list
//! Only names, email addresses and phone numbers are asked for, and no sync
//! token: Konnecs reads the contacts once per import and keeps nothing to
//! read them again with.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::ports::google::{ContactsPage, GoogleError, GooglePerson};

/// Where the People API is.
pub const PEOPLE_BASE_URL: &str = "https://people.googleapis.com/v1";
/// The fields read of each contact: nothing more.
pub const PERSON_FIELDS: &str = "names,emailAddresses,phoneNumbers";
/// The People API's largest page.
pub const MAX_PAGE_SIZE: u32 = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionsAnswer {
    #[serde(default)]
    connections: Vec<Person>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    resource_name: String,
    #[serde(default)]
    names: Vec<Name>,
    #[serde(default)]
    email_addresses: Vec<Value>,
    #[serde(default)]
    phone_numbers: Vec<PhoneNumber>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    primary: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Name {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    unstructured_name: Option<String>,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneNumber {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    canonical_form: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl From<Person> for GooglePerson {
    fn from(person: Person) -> Self {
        // The primary name when Google marks one, else the first.
        let name = person
            .names
            .iter()
            .position(|n| n.metadata.primary)
            .or(if person.names.is_empty() { None } else { Some(0) })
            .map(|at| &person.names[at]);
        let mut emails: Vec<(bool, String)> = person
            .email_addresses
            .into_iter()
            .filter_map(|e| Some((e.metadata.primary, non_empty(e.value)?)))
            .collect();
        // The primary address first: the contact's main one.
        emails.sort_by_key(|(primary, _)| !primary);
        let mut phones: Vec<(bool, String)> = person
            .phone_numbers
            .into_iter()
            .filter_map(|p| Some((p.metadata.primary, non_empty(p.canonical_form).or(non_empty(p.value))?)))
            .collect();
        phones.sort_by_key(|(primary, _)| !primary);
        GooglePerson {
            resource_name: person.resource_name,
            given_name: name.and_then(|n| non_empty(n.given_name.clone())),
            family_name: name.and_then(|n| non_empty(n.family_name.clone())),
            display_name: name
                .and_then(|n| non_empty(n.display_name.clone()).or(non_empty(n.unstructured_name.clone()))),
            emails: emails.into_iter().map(|(_, e)| e).collect(),
            phones: phones.into_iter().map(|(_, p)| p).collect(),
        }
    }
}

/// One page of the member's connections.
pub(super) async fn contacts_page(
    http: &reqwest::Client,
    base_url: &str,
    access_token: &SecretString,
    page_token: Option<&str>,
    page_size: u32,
) -> Result<ContactsPage, GoogleError> {
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE).to_string();
    let mut query = vec![("personFields", PERSON_FIELDS), ("pageSize", page_size.as_str())];
    if let Some(token) = page_token {
        query.push(("pageToken", token));
    }
    let response = http
        .get(format!("{base_url}/people/me/connections"))
        .query(&query)
        .bearer_auth(access_token.expose_secret())
        .send()
        .await
        .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
    if !response.status().is_success() {
        return Err(super::api_refusal(response).await);
    }
    let answer: ConnectionsAnswer = response
        .json()
        .await
        .map_err(|err| GoogleError::Unavailable(format!("unreadable contacts page: {err}")))?;
    Ok(ContactsPage {
        people: answer.connections.into_iter().map(GooglePerson::from).collect(),
        next_page_token: non_empty(answer.next_page_token),
    })
}
