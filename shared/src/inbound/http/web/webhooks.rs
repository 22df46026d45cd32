//! Settings → Webhooks (admins): the organization's endpoints and a form to
//! add one (`/app/settings/webhooks`), one endpoint with its settings, its
//! secret actions and its delivery log with a Redeliver button per delivery
//! (`/app/settings/webhooks/{id}`). The signing secret is shown on the page
//! that answers its creation or rotation, and never again.

use askama::Template;
use axum::extract::{Path, Query, State};
use http::{HeaderValue, StatusCode};

use super::contacts::NoticeQuery;
use super::{
    Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, local_time, notice_text, render, see_other,
};
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::role::Permission;
use crate::domain::webhook::EVENT_TYPES;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::webhooks::{self, DeliveryView, EndpointInput, EndpointView, WebhookError};

/// Deliveries shown on an endpoint's page.
const LOG_ROWS: u32 = 50;

pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

fn choices(selected: &[String]) -> Vec<EventChoice> {
    EVENT_TYPES
        .iter()
        .map(|name| EventChoice {
            name,
            checked: selected.iter().any(|s| s == name),
        })
        .collect()
}

pub struct AttemptRow {
    pub attempt: u32,
    pub at: String,
    pub outcome: String,
    pub duration_ms: u64,
    pub manual: bool,
}

pub struct DeliveryRow {
    pub id: String,
    pub event_type: String,
    pub event_id: String,
    pub status: String,
    pub created: String,
    pub next: String,
    pub attempts: Vec<AttemptRow>,
}

fn rows(deliveries: Vec<DeliveryView>, zone: &str) -> Vec<DeliveryRow> {
    deliveries
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id.to_string(),
            event_type: d.event_type,
            event_id: d.event_id,
            status: serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            created: local_time(&d.created_at, zone),
            next: d.next_attempt_at.map(|at| local_time(&at, zone)).unwrap_or_default(),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptRow {
                    attempt: a.attempt,
                    at: local_time(&a.at, zone),
                    outcome: match (a.status_code, a.error) {
                        (Some(code), _) => format!("HTTP {code}"),
                        (None, Some(error)) => error,
                        (None, None) => "no answer".into(),
                    },
                    duration_ms: a.duration_ms,
                    manual: a.manual,
                })
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff/webhooks.html")]
struct ListPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    endpoints: Vec<EndpointView>,
    events: Vec<EventChoice>,
}

#[derive(Template)]
#[template(path = "staff/webhook.html")]
struct EndpointPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    endpoint: EndpointView,
    events: Vec<EventChoice>,
    /// A secret just made: shown this once.
    secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

fn webhook_notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "webhook-saved" => Some("Endpoint saved."),
        "webhook-deleted" => Some("Endpoint deleted."),
        "webhook-redelivered" => Some("Delivery queued again."),
        other => notice_text(Some(other)),
    }
}

/// The endpoint form's fields as the service takes them.
fn input(form: &FormData, with_enabled: bool) -> EndpointInput {
    EndpointInput {
        url: Some(form.text("url")),
        events: Some(form.all("events")),
        description: Some(form.text("description")),
        enabled: with_enabled.then(|| form.text("enabled") == "on"),
    }
}

fn answered_with_secret(page: &EndpointPage, status: StatusCode) -> axum::response::Response {
    let mut response = render(status, page);
    // Never kept by a browser or proxy: it carries the secret.
    response
        .headers_mut()
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn list_page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
) -> Result<ListPage, PageError> {
    let endpoints = webhooks::list_endpoints(state, &staff.auth.org_id)
        .await
        .map_err(ApiError::from)?;
    let events = choices(&form.all("events"));
    let staff = staff.in_section("settings");
    Ok(ListPage {
        title: "Webhooks",
        chrome: Some(staff.chrome),
        notice,
        errors,
        form,
        endpoints,
        events,
    })
}

/// `GET /app/settings/webhooks`.
pub async fn list(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    staff.auth.require(Permission::ManageIntegrations)?;
    let page = list_page(
        &state,
        staff,
        webhook_notice(query.notice.as_deref()),
        FieldErrors::default(),
        FormData::parse(b""),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/settings/webhooks`: adds the endpoint and shows its secret once.
pub async fn create(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::ManageIntegrations)?;
    match webhooks::create_endpoint(&state, &staff.auth.actor, input(&form, false)).await {
        Ok(created) => {
            let page = endpoint_page(
                &state,
                staff,
                &created.endpoint.id,
                Some("Endpoint added. Copy its signing secret now: it is not shown again."),
                FieldErrors::default(),
                None,
                Some(created.secret),
            )
            .await?;
            Ok(answered_with_secret(&page, StatusCode::CREATED))
        }
        Err(WebhookError::Invalid(fields)) => {
            let errors = FieldErrors::from_api(&ApiError::fields(fields), |field| field);
            let page = list_page(&state, staff, None, errors, form).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => Err(PageError(err.into())),
    }
}

async fn endpoint_page(
    state: &AppState,
    staff: Staff,
    id: &WebhookEndpointId,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: Option<FormData>,
    secret: Option<String>,
) -> Result<EndpointPage, PageError> {
    let endpoint = webhooks::get_endpoint(state, &staff.auth.org_id, id)
        .await
        .map_err(ApiError::from)?;
    let deliveries = webhooks::list_deliveries(state, &staff.auth.org_id, id, LOG_ROWS)
        .await
        .map_err(ApiError::from)?;
    let form = form.unwrap_or_else(|| {
        let mut pairs = vec![
            ("url".to_string(), endpoint.url.clone()),
            ("description".to_string(), endpoint.description.clone()),
        ];
        if endpoint.enabled {
            pairs.push(("enabled".into(), "on".into()));
        }
        pairs.extend(endpoint.events.iter().map(|e| ("events".to_string(), e.clone())));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        FormData::parse(encoded.as_bytes())
    });
    let events = choices(&form.all("events"));
    let zone = staff.time_zone.clone();
    let staff = staff.in_section("settings");
    Ok(EndpointPage {
        title: "Webhook endpoint",
        chrome: Some(staff.chrome),
        notice,
        errors,
        form,
        endpoint,
        events,
        secret,
        deliveries: rows(deliveries, &zone),
    })
}

/// `GET /app/settings/webhooks/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<WebhookEndpointId>,
    staff: Staff,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    staff.auth.require(Permission::ManageIntegrations)?;
    let notice = webhook_notice(query.notice.as_deref());
    let page = endpoint_page(&state, staff, &id, notice, FieldErrors::default(), None, None).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/settings/webhooks/{id}`: `action` is `save`, `rotate`,
/// `delete` or `redeliver` (with `delivery_id`).
pub async fn action(
    State(state): State<AppState>,
    Path(id): Path<WebhookEndpointId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::ManageIntegrations)?;
    let here = format!("/app/settings/webhooks/{id}");
    match form.text("action").as_str() {
        "save" => match webhooks::update_endpoint(&state, &staff.auth.actor, &id, input(&form, true)).await {
            Ok(_) => Ok(see_other(&format!("{here}?notice=webhook-saved"))),
            Err(WebhookError::Invalid(fields)) => {
                let errors = FieldErrors::from_api(&ApiError::fields(fields), |field| field);
                let page = endpoint_page(&state, staff, &id, None, errors, Some(form), None).await?;
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
            }
            Err(err) => Err(PageError(err.into())),
        },
        "rotate" => {
            let secret = webhooks::rotate_secret(&state, &staff.auth.actor, &id)
                .await
                .map_err(ApiError::from)?;
            let notice =
                Some("New signing secret made: copy it now, it is not shown again. The old one no longer signs.");
            let page = endpoint_page(&state, staff, &id, notice, FieldErrors::default(), None, Some(secret)).await?;
            Ok(answered_with_secret(&page, StatusCode::OK))
        }
        "delete" => {
            webhooks::delete_endpoint(&state, &staff.auth.actor, &id)
                .await
                .map_err(ApiError::from)?;
            Ok(see_other("/app/settings/webhooks?notice=webhook-deleted"))
        }
        "redeliver" => {
            let delivery = WebhookDeliveryId::new(form.text("delivery_id"));
            webhooks::redeliver(&state, &staff.auth.org_id, &id, &delivery)
                .await
                .map_err(ApiError::from)?;
            Ok(see_other(&format!("{here}?notice=webhook-redelivered")))
        }
        _ => Err(PageError(ApiError::field("action", "invalid", "Unknown action."))),
    }
}

impl EndpointPage {
    fn checked(&self) -> bool {
        self.form.text("enabled") == "on"
    }
}
