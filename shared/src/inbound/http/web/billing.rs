//! `/app/settings/billing` (owners): the plan in force and the usage of
//! each limit, the subscription's status and last invoice, and the ways to
//! Stripe: Checkout to subscribe or upgrade, the Customer Portal to manage
//! payment methods, invoices and cancellation. The same services as
//! `GET /billing` and `POST /billing/checkout|portal`.
//!
//! Stripe's pages are on another origin and the staff CSP allows forms to
//! post only here (`form-action 'self'`, which browsers also apply to a
//! redirect after a post), so a post answers a page with the link onward.

use askama::Template;
use http::StatusCode;

use super::{Chrome, PageError, PageResult, Staff, StaffForm, render};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::billing::account::{self, BillingOverview};
use axum::extract::State;

#[derive(Template)]
#[template(path = "staff/billing.html")]
struct BillingPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    billing: BillingOverview,
}

#[derive(Template)]
#[template(path = "staff/billing_continue.html")]
struct ContinuePage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    url: String,
    destination: &'static str,
}

/// `GET /app/settings/billing`.
pub async fn billing(State(state): State<AppState>, staff: Staff) -> PageResult {
    let billing = account::overview(&state, &staff.auth.org_id, staff.auth.role)
        .await
        .map_err(ApiError::from)?;
    let staff = staff.in_section("settings");
    Ok(render(
        StatusCode::OK,
        &BillingPage {
            title: "Billing",
            chrome: Some(staff.chrome),
            notice: None,
            billing,
        },
    ))
}

/// `POST /app/settings/billing`: `action=checkout` with a `plan`, or
/// `action=portal`; answers the link to Stripe's page.
pub async fn billing_action(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let auth = &staff.auth;
    let (url, destination) = match form.text("action").as_str() {
        "checkout" => (
            account::checkout(&state, &auth.org_id, auth.role, &auth.user_id, &form.text("plan")).await,
            "Stripe Checkout",
        ),
        "portal" => (
            account::portal(&state, &auth.org_id, auth.role).await,
            "the Stripe customer portal",
        ),
        _ => {
            return Err(PageError(ApiError::field(
                "action",
                "invalid_action",
                "Choose checkout or portal.",
            )));
        }
    };
    let url = url.map_err(ApiError::from)?;
    let staff = staff.in_section("settings");
    Ok(render(
        StatusCode::OK,
        &ContinuePage {
            title: "Billing",
            chrome: Some(staff.chrome),
            notice: None,
            url,
            destination,
        },
    ))
}
