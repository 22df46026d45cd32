//! `/app`, where the day starts: today's appointments and the next seven
//! days' count (in the organization's zone), the newest contacts, the
//! open deals of every pipeline by stage with their totals, and the imports
//! and exports still running. The same
//! services as `/appointments`, `/contacts` and `/pipelines/{id}/board`.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;
use jiff::tz::TimeZone;

use super::contacts::{NoticeQuery, Row};
use super::{Chrome, PageResult, Staff, notice_text, render};
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller as crm_caller;
use crate::inbound::http::scheduling::caller as scheduling_caller;
use crate::services::contacts::{self, ContactFilter};
use crate::services::exports::job::{self as export_jobs, ExportState};
use crate::services::imports::{self, ImportState};
use crate::services::pipelines;
use crate::services::scheduling::bookings::{self, BookingStatus, ListRange};
use crate::services::sms::{self, StaffNotification};

pub struct Appointment {
    pub when: String,
    pub who: String,
    pub what: String,
    pub status: &'static str,
    pub status_class: &'static str,
}

pub struct StageSummary {
    pub name: String,
    pub count: u64,
    pub total: String,
}

/// An import or export still running, with its progress.
pub struct Job {
    pub what: String,
    pub done: u64,
    /// 0 when the total is not known (an export's).
    pub total: u64,
    pub link: Option<String>,
}

pub struct PipelineSummary {
    pub name: String,
    pub stages: Vec<StageSummary>,
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    zone: String,
    today: Vec<Appointment>,
    next_week: usize,
    recent: Vec<Row>,
    pipelines: Vec<PipelineSummary>,
    jobs: Vec<Job>,
    /// Text replies and failed reminder texts, newest first.
    notifications: Vec<StaffNotification>,
}

fn status_words(status: BookingStatus) -> (&'static str, &'static str) {
    match status {
        BookingStatus::PendingConfirmation => ("Pending", "pending_confirmation"),
        BookingStatus::Confirmed => ("Confirmed", "confirmed"),
        BookingStatus::Cancelled => ("Cancelled", "cancelled"),
        BookingStatus::Declined => ("Declined", "declined"),
    }
}

/// Minor units as an amount: 12345 EUR → "123.45 EUR".
pub fn money(value: i64, currency: &str) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", value / 100, value % 100)
}

/// `GET /app`.
pub async fn home(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    let crm = crm_caller(&staff.auth)?;
    let scheduling = scheduling_caller(&staff.auth)?;
    let zone_name = staff.time_zone.clone();
    let zone = TimeZone::get(&zone_name).unwrap_or(TimeZone::UTC);
    let today = state.clock.now().to_zoned(zone.clone()).date();
    let day = |offset: i64| {
        today
            .checked_add(jiff::Span::new().days(offset))
            .unwrap_or(today)
            .to_string()
    };
    let (tomorrow, in_eight_days) = (day(1), day(8));
    let today_text = today.to_string();
    let todays = bookings::list_for_host(
        &state,
        &scheduling,
        None,
        ListRange {
            from: &today_text,
            to: &tomorrow,
            tz: Some(&zone_name),
        },
    )
    .await?;
    let coming = bookings::list_for_host(
        &state,
        &scheduling,
        None,
        ListRange {
            from: &tomorrow,
            to: &in_eight_days,
            tz: Some(&zone_name),
        },
    )
    .await?;
    let table = state.table.as_ref();
    let (recent, _) = contacts::list(table, crm.org_id(), &ContactFilter::default(), 5, None).await?;
    let mut summaries = Vec::new();
    for pipeline in pipelines::list_pipelines(table, crm.org_id()).await? {
        let board = pipelines::board(table, crm.org_id(), &pipeline.id, 0).await?;
        summaries.push(PipelineSummary {
            name: board.pipeline.name.clone(),
            stages: board
                .stages
                .iter()
                .map(|column| StageSummary {
                    name: column.stage.name.clone(),
                    count: column.count,
                    total: column
                        .totals
                        .iter()
                        .map(|t| money(t.value, &t.currency))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
        });
    }
    let mut jobs = Vec::new();
    for import in imports::recent(&state, crm.org_id(), 10).await? {
        if matches!(
            import.state,
            ImportState::Uploading | ImportState::Queued | ImportState::Running
        ) {
            jobs.push(Job {
                what: "Contact import".into(),
                done: import.rows_done,
                total: import.rows_total,
                link: Some(format!("/app/imports/{}", import.id)),
            });
        }
    }
    for export in export_jobs::recent(&state, crm.org_id(), 10).await? {
        if matches!(export.state, ExportState::Queued | ExportState::Running) {
            jobs.push(Job {
                what: "Contact export".into(),
                done: export.rows_done,
                total: 0,
                link: Some(format!("/app/exports/{}", export.id)),
            });
        }
    }
    let notifications = sms::recent_notifications(table, crm.org_id(), 5).await?;
    let staff = staff.in_section("home");
    Ok(render(
        StatusCode::OK,
        &HomePage {
            title: "Home",
            chrome: Some(staff.chrome),
            notice: notice_text(query.notice.as_deref()),
            zone: zone_name.clone(),
            today: todays
                .iter()
                .map(|b| {
                    let (status, status_class) = status_words(b.status);
                    Appointment {
                        when: b.start.to_zoned(zone.clone()).strftime("%H:%M").to_string(),
                        who: b.invitee.name.clone(),
                        what: b.event_title.clone(),
                        status,
                        status_class,
                    }
                })
                .collect(),
            next_week: coming
                .iter()
                .filter(|b| matches!(b.status, BookingStatus::Confirmed | BookingStatus::PendingConfirmation))
                .count(),
            recent: recent.iter().map(Row::of).collect(),
            pipelines: summaries,
            jobs,
            notifications,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_in_major_units() {
        assert_eq!(money(12345, "EUR"), "123.45 EUR");
        assert_eq!(money(-5, "USD"), "-0.05 USD");
    }
}
