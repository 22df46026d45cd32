//! Outgoing-webhook endpoints (admins): `GET/POST /org/webhooks`,
//! `PATCH/DELETE /org/webhooks/{endpointId}`, `POST …/secret` (a new
//! secret, shown once), `GET …/deliveries` (the log) and
//! `POST …/deliveries/{deliveryId}/redeliver`. Rules live in
//! `services::webhooks`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::session::Authenticated;
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::webhooks::{self, DeliveryView, EndpointInput, EndpointView};

/// The organization's endpoints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EndpointList {
    pub items: Vec<EndpointView>,
}

/// A new endpoint with its signing secret: the one time the secret is shown.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

/// A new signing secret, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NewSecret {
    pub secret: String,
}

/// An endpoint's deliveries, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
}

/// The redelivery is queued; it shows in the log once attempted.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Redelivery {
    pub queued: bool,
}

/// Another organization's endpoint is a 404 whatever the caller's role
/// (never a 403 that would confirm it exists); then admins only.
async fn admin_of(state: &AppState, auth: &Authenticated, id: &WebhookEndpointId) -> Result<(), ApiError> {
    webhooks::get_endpoint(state, &auth.org_id, id).await?;
    auth.require(Permission::ManageIntegrations)
}

pub async fn list_endpoints(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    auth.require(Permission::ManageIntegrations)?;
    let items = webhooks::list_endpoints(&state, &auth.org_id).await?;
    Ok::<_, ApiError>(Json(EndpointList { items }))
}

pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<EndpointInput>,
) -> impl IntoResponse {
    auth.require(Permission::ManageIntegrations)?;
    let created = webhooks::create_endpoint(&state, &auth.actor, body).await?;
    let body = EndpointWithSecret {
        endpoint: created.endpoint,
        secret: created.secret,
    };
    Ok::<_, ApiError>((StatusCode::CREATED, Json(body)))
}

pub async fn update_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<WebhookEndpointId>,
    ApiJson(body): ApiJson<EndpointInput>,
) -> impl IntoResponse {
    admin_of(&state, &auth, &id).await?;
    let endpoint = webhooks::update_endpoint(&state, &auth.actor, &id, body).await?;
    Ok::<_, ApiError>(Json(endpoint))
}

pub async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<WebhookEndpointId>,
) -> impl IntoResponse {
    admin_of(&state, &auth, &id).await?;
    webhooks::delete_endpoint(&state, &auth.actor, &id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<WebhookEndpointId>,
) -> impl IntoResponse {
    admin_of(&state, &auth, &id).await?;
    let secret = webhooks::rotate_secret(&state, &auth.actor, &id).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(NewSecret { secret })))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DeliveriesQuery {
    limit: Option<u32>,
}

pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<WebhookEndpointId>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> impl IntoResponse {
    admin_of(&state, &auth, &id).await?;
    let items = webhooks::list_deliveries(&state, &auth.org_id, &id, query.limit.unwrap_or(50)).await?;
    Ok::<_, ApiError>(Json(DeliveryList { items }))
}

pub async fn redeliver(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, delivery_id)): Path<(WebhookEndpointId, WebhookDeliveryId)>,
) -> impl IntoResponse {
    admin_of(&state, &auth, &id).await?;
    webhooks::redeliver(&state, &auth.org_id, &id, &delivery_id).await?;
    Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(Redelivery { queued: true })))
}
