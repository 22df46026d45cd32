//! `/app/settings/integrations`: the member's own Google connection. Each
//! feature's access is explained in plain words before connecting; the
//! page shows the connection's state (connected, broken with the reason,
//! disconnected) and disconnects before it answers. The same services as
//! `GET /integrations/google`, `POST /integrations/google/connect` and
//! `DELETE /integrations/google`.
//!
//! Google's consent page is on another origin and the staff CSP lets forms
//! post only here (`form-action 'self'`, applied to a redirect after a post
//! too), so connecting answers a page with the link onward, as billing does.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;
use serde::Deserialize;

use super::contacts::NoticeQuery;
use super::{Chrome, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::google::GoogleFeature;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::google::calendar::{self, CalendarChoice};
use crate::services::google::contacts::{self, GoogleImportError};
use crate::services::google::{self, Callback, ConnectionView, GoogleConnectionError};
use crate::services::imports::{self, DedupeMode, ImportRecord, ImportState};

/// Where the page is.
pub const PAGE: &str = "/app/settings/integrations";

pub struct FeatureRow {
    pub name: &'static str,
    pub label: &'static str,
    pub explanation: &'static str,
    pub scopes: String,
    pub granted: bool,
}

#[derive(Template)]
#[template(path = "staff/integrations.html")]
struct IntegrationsPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    google: ConnectionView,
    features: Vec<FeatureRow>,
    error: Option<String>,
    /// With Calendar access: the member's calendars (`None` without it).
    calendars: Option<Vec<CalendarChoice>>,
    /// Why the calendars could not be read just now.
    calendars_error: Option<&'static str>,
    /// With Contacts access: the import can be started.
    contacts_import: bool,
    /// The member's latest Google contacts import.
    last_import: Option<LastImport>,
}

/// The member's latest Google contacts import, as the page mentions it.
pub struct LastImport {
    pub id: String,
    pub state: &'static str,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub started_at: String,
}

impl LastImport {
    fn of(record: &ImportRecord) -> Self {
        LastImport {
            id: record.id.clone(),
            state: match record.state {
                ImportState::Done => "finished",
                ImportState::Failed => "stopped",
                _ => "running",
            },
            created: record.created,
            updated: record.updated,
            skipped: record.skipped,
            failed: record.failed,
            started_at: record.created_at.chars().take(16).collect::<String>().replace('T', " "),
        }
    }
}

#[derive(Template)]
#[template(path = "staff/integrations_continue.html")]
struct ContinuePage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    url: String,
}

fn feature_rows(google: &ConnectionView) -> Vec<FeatureRow> {
    GoogleFeature::ALL
        .into_iter()
        .map(|feature| FeatureRow {
            name: feature.as_str(),
            label: feature.label(),
            explanation: feature.explanation(),
            scopes: feature
                .scopes()
                .iter()
                .map(|scope| scope.rsplit('/').next().unwrap_or(scope))
                .collect::<Vec<_>>()
                .join(", "),
            granted: google.features.contains(&feature),
        })
        .collect()
}

async fn page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let google = google::status(state, &staff.auth.org_id, &staff.auth.user_id)
        .await
        .map_err(ApiError::from)?;
    // Reading the calendars is this member's own action: opening the page.
    let (calendars, calendars_error) =
        if google.state == "connected" && google.features.contains(&GoogleFeature::Calendar) {
            match calendar::calendars(state, &staff.auth.org_id, &staff.auth.user_id).await {
                Ok(list) => (Some(list), None),
                Err(err) => {
                    tracing::warn!(error = %err, "the member's calendars could not be read");
                    (
                        None,
                        Some("Your calendars could not be read from Google just now. Try again in a moment."),
                    )
                }
            }
        } else {
            (None, None)
        };
    let contacts_import = google.state == "connected" && google.features.contains(&GoogleFeature::Contacts);
    let last_import = imports::recent(state, &staff.auth.org_id, 20)
        .await
        .map_err(ApiError::from)?
        .iter()
        .find(|r| r.google.as_ref().is_some_and(|g| g.user_id == staff.auth.user_id))
        .map(LastImport::of);
    let staff = staff.in_section("settings");
    Ok(render(
        status,
        &IntegrationsPage {
            title: "Integrations",
            chrome: Some(staff.chrome),
            notice,
            features: feature_rows(&google),
            google,
            error,
            calendars,
            calendars_error,
            contacts_import,
            last_import,
        },
    ))
}

/// `GET /app/settings/integrations`: every member's own connections.
pub async fn integrations(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /app/settings/integrations`: `action=connect` with the `features`
/// checked (answers the link to Google's consent page), or
/// `action=disconnect` (revokes and deletes before answering).
pub async fn integrations_action(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    match form.text("action").as_str() {
        "connect" => {
            let started = match google::parse_features(&form.all("features")) {
                Ok(features) => google::start_connect(&state, &staff.auth.org_id, &staff.auth.user_id, &features).await,
                Err(err) => Err(err),
            };
            match started {
                Ok(url) => {
                    let staff = staff.in_section("settings");
                    Ok(render(
                        StatusCode::OK,
                        &ContinuePage {
                            title: "Integrations",
                            chrome: Some(staff.chrome),
                            notice: None,
                            url,
                        },
                    ))
                }
                Err(GoogleConnectionError::Invalid(fields)) => {
                    let message = fields.first().map(|f| f.message.clone());
                    page(&state, staff, None, message, StatusCode::UNPROCESSABLE_ENTITY).await
                }
                Err(err) => Err(PageError(err.into())),
            }
        }
        "calendars" => {
            let busy = form.all("busy");
            let write = form.optional("write");
            match calendar::choose_calendars(&state, &staff.auth.actor, &staff.auth.user_id, &busy, write.as_deref())
                .await
            {
                Ok(()) => Ok(see_other(&format!("{PAGE}?notice=google-calendars-saved"))),
                Err(GoogleConnectionError::Invalid(fields)) => {
                    let message = fields.first().map(|f| f.message.clone());
                    page(&state, staff, None, message, StatusCode::UNPROCESSABLE_ENTITY).await
                }
                Err(err) => Err(PageError(err.into())),
            }
        }
        "import_contacts" => {
            staff.auth.require(Permission::UseCrm)?;
            let mode = match form.text("mode").as_str() {
                "update" => DedupeMode::Update,
                _ => DedupeMode::Skip,
            };
            match contacts::start_import(&state, &staff.auth.actor, &staff.auth.user_id, mode).await {
                Ok(record) => Ok(see_other(&format!("/app/imports/{}", record.id))),
                Err(GoogleImportError::AlreadyRunning(id)) => Ok(see_other(&format!("/app/imports/{id}"))),
                Err(GoogleImportError::ContactsNotEnabled(message)) => {
                    page(&state, staff, None, Some(message), StatusCode::CONFLICT).await
                }
                Err(err) => Err(PageError(err.into())),
            }
        }
        "disconnect" => {
            google::disconnect(&state, &staff.auth.actor, &staff.auth.user_id)
                .await
                .map_err(ApiError::from)?;
            Ok(see_other(&format!("{PAGE}?notice=google-disconnected")))
        }
        _ => Err(PageError(ApiError::field(
            "action",
            "invalid_action",
            "Choose connect or disconnect.",
        ))),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /app/settings/integrations/google/callback`: Google sends the member back here.
/// The state must be the one this member's connect started (single use);
/// then the code is exchanged and the tokens stored, sealed.
pub async fn callback(State(state): State<AppState>, staff: Staff, Query(query): Query<CallbackQuery>) -> PageResult {
    let callback = Callback {
        state: query.state,
        code: query.code,
        error: query.error,
    };
    match google::finish_connect(&state, &staff.auth.actor, &staff.auth.user_id, callback).await {
        Ok(_) => Ok(see_other(&format!("{PAGE}?notice=google-connected"))),
        Err(GoogleConnectionError::Declined) => Ok(see_other(&format!("{PAGE}?notice=google-declined"))),
        Err(err) => Err(PageError(err.into())),
    }
}
