//! The public scheduling pages: `/book/{org}/{event}` (pick a day and a
//! time in the visitor's zone, give name, email and optionally a phone with
//! SMS consent, book, see the confirmation and the manage link) and
//! `/booking/{uid}?token=` (cancel or reschedule).
//!
//! Rendered on the server from askama templates (`shared/templates/`,
//! compiled and type-checked with the crate, every value HTML-escaped): the
//! event's name, description, durations, location and host, with `<title>`
//! and Open Graph tags, so link previews and clients without JavaScript see
//! them. An unknown or inactive event, and a booking with a wrong or missing
//! token, answer a 404 page. One small vanilla script per page then loads
//! the free times and books, cancels or reschedules through the public JSON
//! API, writing every value it shows through `textContent`, never as markup.
//! Served with a strict CSP and no caching.

use crate::domain::ids::BookingId;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use jiff::tz::TimeZone;

use crate::inbound::AppState;
use crate::services::scheduling::SchedulingError;
use crate::services::scheduling::bookings::{self, BookingStatus, PublicEvent};
use crate::services::scheduling::event_types::Location;
use crate::services::scheduling::public_pages::{self, ManagedBooking};

/// The consent text shown beside the SMS checkbox (privacy policy §6).
pub const SMS_CONSENT_TEXT: &str = "Text me about this appointment at this number: a confirmation, reminders, and notice of changes (typically 1–3 messages per appointment). Message and data rates may apply. Reply STOP to opt out, HELP for help.";

const STYLE: &str = "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;color:#1c1c1c;line-height:1.4;overflow-wrap:anywhere}\
a{word-break:break-all}\
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}.muted{color:#555}\
.grid{display:flex;flex-wrap:wrap;gap:.5rem}.grid button{flex:1 1 7rem;min-height:2.75rem}\
button{padding:.6rem 1rem;font-size:1rem;border:1px solid #2456d3;border-radius:.4rem;background:#fff;color:#2456d3;cursor:pointer}\
button.primary,button[aria-pressed=true]{background:#2456d3;color:#fff}button:disabled{opacity:.5}\
label{display:block;margin:.8rem 0 .2rem}input,select,textarea{width:100%;padding:.6rem;font-size:1rem;border:1px solid #bbb;border-radius:.3rem}\
label.check{display:flex;gap:.6rem;align-items:flex-start;font-size:.9rem}label.check input{width:auto;margin-top:.2rem}\
#description{white-space:pre-line}#status{margin-top:1rem}.error{color:#b00020}.ok{color:#1b7f3a}.card{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin-top:1rem}\
@media (max-width:30rem){body{padding:.75rem}h1{font-size:1.2rem}.grid button{flex:1 1 40%}}";

/// A rendered page with its status and the headers every public page carries.
fn page(status: StatusCode, template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>"),
            )
                .into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

/// Helpers both pages share: the API call with problem details, the visitor's
/// zone, slot loading and the day/time pickers.
const COMMON_JS: &str = r#"
const $ = (id) => document.getElementById(id);
const zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || 'UTC';
function say(text, kind) { const s = $('status'); s.className = kind || ''; s.textContent = text || ''; }
async function api(method, url, body) {
  const init = {method, headers: {'accept': 'application/json'}};
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  const response = await fetch(url, init);
  let data = null; try { data = await response.json(); } catch (_) {}
  if (!response.ok) {
    const details = ((data && data.errors) || []).map(e => e.message).join(' ');
    const error = new Error(details || (data && data.detail) || 'Something went wrong.');
    error.code = data && data.code; throw error;
  }
  return data;
}
function isoDay(date) { return date.toLocaleDateString('en-CA', {timeZone: zone}); }
function addDays(date, days) { return new Date(date.getTime() + days * 86400000); }
function dayLabel(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d, 12)).toLocaleDateString(undefined, {weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC'});
}
function timeLabel(start) { return new Date(start).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', timeZone: zone}); }
function whenLabel(start) { return new Date(start).toLocaleString(undefined, {dateStyle: 'full', timeStyle: 'short', timeZone: zone}); }
/* The slots answer, normalised to [{date, slots: [start ISO]}] whatever its exact field names. */
function normaliseDays(data) {
  const days = (data && (data.days || data.slots)) || [];
  if (!Array.isArray(days)) { return Object.keys(days).sort().map(date => ({date, slots: days[date].map(s => s.start || s)})); }
  return days.map(d => ({date: d.date || d.day, slots: (d.slots || d.times || []).map(s => (typeof s === 'string') ? s : (s.start || s.starts_at))}));
}
async function loadSlots(base, duration) {
  const from = isoDay(new Date()), to = isoDay(addDays(new Date(), 30));
  const query = new URLSearchParams({from, to, tz: zone});
  if (duration) query.set('duration', String(duration));
  return normaliseDays(await api('GET', base + '/slots?' + query.toString()));
}
function pressed(container, button) { for (const b of container.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button)); }
function renderPicker(days, onPick) {
  const dayBox = $('days'), timeBox = $('times');
  dayBox.replaceChildren(); timeBox.replaceChildren();
  const open = days.filter(d => d.slots.length > 0);
  if (open.length === 0) { const p = document.createElement('p'); p.className = 'muted'; p.textContent = 'No free times in the next 30 days.'; dayBox.append(p); return; }
  for (const day of open) {
    const b = document.createElement('button'); b.type = 'button'; b.className = 'day'; b.dataset.date = day.date; b.textContent = dayLabel(day.date);
    b.addEventListener('click', () => {
      pressed(dayBox, b); timeBox.replaceChildren();
      for (const start of day.slots) {
        const t = document.createElement('button'); t.type = 'button'; t.className = 'time'; t.dataset.start = start; t.textContent = timeLabel(start);
        t.addEventListener('click', () => { pressed(timeBox, t); onPick(start); });
        timeBox.append(t);
      }
    });
    dayBox.append(b);
  }
}
"#;

const BOOK_JS: &str = r#"
const root = document.body.dataset;
const base = '/public/booking/' + encodeURIComponent(root.org) + '/' + encodeURIComponent(root.event);
let event = null, chosen = null;
$('zone').textContent = zone;
function questionField(q) {
  const wrap = document.createElement('div');
  const label = document.createElement('label'); label.textContent = q.label + (q.required ? '' : ' (optional)');
  let input;
  if (q.type === 'long_text') { input = document.createElement('textarea'); }
  else if (q.type === 'select' || q.type === 'multi_select') {
    input = document.createElement('select'); if (q.type === 'multi_select') input.multiple = true;
    if (q.type === 'select') { const none = document.createElement('option'); none.value = ''; none.textContent = '—'; input.append(none); }
    for (const o of q.options || []) { const opt = document.createElement('option'); opt.value = o; opt.textContent = o; input.append(opt); }
  } else {
    input = document.createElement('input');
    input.type = q.type === 'checkbox' ? 'checkbox' : q.type === 'number' ? 'number' : q.type === 'phone' ? 'tel' : 'text';
  }
  input.dataset.question = q.id; input.dataset.kind = q.type; input.required = !!q.required && q.type !== 'checkbox';
  label.append(input); wrap.append(label); return wrap;
}
function answers() {
  const out = {};
  for (const input of document.querySelectorAll('[data-question]')) {
    const kind = input.dataset.kind;
    let value = kind === 'checkbox' ? input.checked : kind === 'multi_select' ? Array.from(input.selectedOptions).map(o => o.value) : input.value;
    if (kind === 'number' && value !== '') value = Number(value);
    if (value === '' || (Array.isArray(value) && value.length === 0)) continue;
    out[input.dataset.question] = value;
  }
  return out;
}
function duration() { const d = $('duration'); return d && d.value ? Number(d.value) : (event && event.default_duration) || undefined; }
async function refresh() {
  chosen = null; $('details').hidden = true;
  try { renderPicker(await loadSlots(base, duration()), (start) => { chosen = start; $('chosen').textContent = whenLabel(start); $('details').hidden = false; $('name').focus(); }); say(''); }
  catch (e) { say(e.message, 'error'); }
}
async function start() {
  try { event = await api('GET', base); } catch (e) { say(e.code === 'not_found' ? 'This booking page does not exist.' : e.message, 'error'); return; }
  // Name, description, host and location are in the page already.
  const durations = event.durations || [];
  if (durations.length > 1) {
    const select = document.createElement('select'); select.id = 'duration';
    for (const d of durations) { const o = document.createElement('option'); o.value = d; o.textContent = d + ' min'; if (d === event.default_duration) o.selected = true; select.append(o); }
    select.addEventListener('change', refresh);
    const label = document.createElement('label'); label.textContent = 'Duration'; label.append(select); $('durationBox').replaceChildren(label);
  } else if (durations.length === 1) { $('durationBox').textContent = durations[0] + ' minutes'; }
  for (const q of event.questions || []) $('questions').append(questionField(q));
  $('picker').hidden = false;
  await refresh();
}
$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!chosen) { say('Pick a time first.', 'error'); return; }
  const phone = $('phone').value.trim();
  const body = {start: chosen, duration: duration(), name: $('name').value, email: $('email').value,
    phone: phone || null, sms_consent: !!phone && $('consent').checked, time_zone: zone, answers: answers()};
  if (body.sms_consent) body.sms_consent_text = $('consentText').textContent;
  $('submit').disabled = true; say('Booking…');
  try {
    const booked = await api('POST', base + '/bookings', body);
    const b = booked.booking || booked;
    $('picker').hidden = true; $('details').hidden = true;
    $('confirmedWhen').textContent = whenLabel(b.start || b.starts_at || chosen);
    // Relative to this page's origin: right behind any proxy or port.
    const link = booked.manage_token ? ('/booking/' + encodeURIComponent(b.uid || b.id) + '?token=' + encodeURIComponent(booked.manage_token)) : booked.manage_url;
    const a = $('manage'); a.href = link; a.textContent = new URL(link, location.href).href;
    $('confirmation').hidden = false; say('');
  } catch (err) {
    $('submit').disabled = false;
    if (err.code === 'slot_taken') { say('Sorry, that time was just taken. Pick another.', 'error'); await refresh(); }
    else say(err.message, 'error');
  }
});
$('phone').addEventListener('input', () => { $('consentBox').hidden = $('phone').value.trim() === ''; });
start();
"#;

/// The booking page of an active event type.
#[derive(Template)]
#[template(path = "book.html")]
struct BookPage<'a> {
    title: String,
    style: &'static str,
    event: &'a PublicEvent,
    /// The meta and Open Graph description.
    summary: String,
    url: String,
    durations: String,
    location: String,
    consent: &'static str,
    script: String,
}

/// A page that only says something: not found, or unavailable.
#[derive(Template)]
#[template(path = "page_message.html")]
struct MessagePage {
    title: &'static str,
    style: &'static str,
    heading: &'static str,
    message: &'static str,
}

/// The answer to a page whose event or booking could not be read: 404 for
/// one that does not exist (or is not public), 503 when the store failed.
fn unavailable(err: SchedulingError, heading: &'static str, message: &'static str) -> Response {
    if matches!(err, SchedulingError::NotFound) {
        let page_404 = MessagePage {
            title: "Not found · Konnecs",
            style: STYLE,
            heading,
            message,
        };
        return page(StatusCode::NOT_FOUND, &page_404);
    }
    tracing::error!(error = %err, "a public page could not be read");
    let page_503 = MessagePage {
        title: "Unavailable · Konnecs",
        style: STYLE,
        heading: "This page is unavailable right now",
        message: "Please try again in a moment.",
    };
    page(StatusCode::SERVICE_UNAVAILABLE, &page_503)
}

/// `[30]` → "30 minutes", `[15, 30, 60]` → "15, 30 or 60 minutes".
pub fn durations_text(durations: &[u32]) -> String {
    match durations {
        [] => String::new(),
        [only] => format!("{only} minutes"),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(u32::to_string).collect();
            format!("{} or {last} minutes", rest.join(", "))
        }
    }
}

/// The public location of an event (`bookings::PublicEvent::location`) in words.
fn public_location_text(location: Option<&serde_json::Value>) -> String {
    let Some(location) = location else {
        return String::new();
    };
    match location.get("kind").and_then(serde_json::Value::as_str) {
        Some("in_person") => {
            let address = location
                .get("address")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            format!("In person at {address}")
        }
        Some("phone") => "By phone".into(),
        Some("video") => "Video call (the link comes with the confirmation)".into(),
        _ => String::new(),
    }
}

/// What a link preview says of the event: durations, location, then the
/// start of its description.
fn summary(event: &PublicEvent, durations: &str, location: &str) -> String {
    let description: String = event.description.chars().take(200).collect();
    let description = if event.description.chars().count() > 200 {
        format!("{}…", description.trim_end())
    } else {
        description
    };
    [durations, location, description.trim()]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" · ")
}

pub async fn book(
    State(state): State<AppState>,
    Path((org_slug, event_slug)): Path<(String, String)>,
) -> impl IntoResponse {
    let event = match bookings::public_event(&state, &org_slug, &event_slug).await {
        Ok(event) => event,
        Err(err) => {
            return unavailable(
                err,
                "This booking page does not exist",
                "Check the link you were given, or ask the business for a new one.",
            );
        }
    };
    let durations = durations_text(&event.durations);
    let location = public_location_text(event.location.as_ref());
    let rendered = BookPage {
        title: format!("{} · {}", event.title, event.org_name),
        style: STYLE,
        summary: summary(&event, &durations, &location),
        url: format!(
            "{}/book/{}/{}",
            state.config.public_url.trim_end_matches('/'),
            event.org_slug,
            event.slug
        ),
        durations,
        location,
        consent: SMS_CONSENT_TEXT,
        script: format!("{COMMON_JS}{BOOK_JS}"),
        event: &event,
    };
    page(StatusCode::OK, &rendered)
}

const MANAGE_JS: &str = r#"
const uid = document.body.dataset.uid;
const labels = {pending_confirmation: 'Waiting for the host to confirm', confirmed: 'Confirmed', cancelled: 'Cancelled', declined: 'Declined'};
const token = new URLSearchParams(location.search).get('token') || '';
const base = '/public/bookings/' + encodeURIComponent(uid);
let booking = null, chosen = null;
function show(b) {
  booking = b.booking || b;
  $('title').textContent = booking.event_title || booking.title || 'Your booking';
  $('when').textContent = whenLabel(booking.start || booking.starts_at);
  $('state').textContent = labels[booking.status] || booking.status || '';
  const live = ['confirmed', 'pending_confirmation'].includes(booking.status);
  $('actions').hidden = !live;
}
async function start() {
  if (!token) { say('This link is missing its token.', 'error'); return; }
  try { show(await api('GET', base + '?token=' + encodeURIComponent(token))); }
  catch (e) { say(e.code === 'not_found' ? 'This booking was not found.' : e.message, 'error'); }
}
$('cancel').addEventListener('click', async () => {
  $('cancel').disabled = true; say('Cancelling…');
  try { const r = await api('POST', base + '/cancel', {token, reason: $('reason').value || null}); show(r || {...booking, status: 'cancelled'}); say('Your booking is cancelled.', 'ok'); }
  catch (e) { $('cancel').disabled = false; say(e.message, 'error'); }
});
$('reschedule').addEventListener('click', async () => {
  $('picker').hidden = false; $('confirmMove').hidden = true; say('Loading free times…');
  const org = document.body.dataset.org || booking.org_slug, event = document.body.dataset.event || booking.event_slug;
  if (!org || !event) { say('Rescheduling is not available for this booking.', 'error'); return; }
  try {
    renderPicker(await loadSlots('/public/booking/' + encodeURIComponent(org) + '/' + encodeURIComponent(event), booking.duration || booking.duration_minutes),
      (start) => { chosen = start; $('confirmMove').hidden = false; $('newWhen').textContent = whenLabel(start); });
    say('');
  } catch (e) { say(e.message, 'error'); }
});
$('confirmMove').addEventListener('click', async () => {
  $('confirmMove').disabled = true; say('Rescheduling…');
  try { const r = await api('POST', base + '/reschedule', {token, start: chosen}); show(r); $('picker').hidden = true; $('confirmMove').hidden = true; say('Your booking is moved.', 'ok'); }
  catch (e) { say(e.code === 'slot_taken' ? 'That time was just taken. Pick another.' : e.message, 'error'); }
  $('confirmMove').disabled = false;
});
start();
"#;

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ManagePageQuery")]
pub struct TokenQuery {
    #[serde(default)]
    token: Option<String>,
}

/// The invitee's page of one booking.
#[derive(Template)]
#[template(path = "manage_booking.html")]
struct ManagePage<'a> {
    title: String,
    style: &'static str,
    managed: &'a ManagedBooking,
    /// Empty when the event type no longer takes bookings (no reschedule).
    event_slug: &'a str,
    /// The start in the invitee's zone; the script shows it in the browser's.
    when: String,
    status: &'static str,
    /// Still on (confirmed or waiting for the host): it can be changed.
    live: bool,
    location: String,
    script: String,
}

fn status_text(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::PendingConfirmation => "Waiting for the host to confirm",
        BookingStatus::Confirmed => "Confirmed",
        BookingStatus::Cancelled => "Cancelled",
        BookingStatus::Declined => "Declined",
    }
}

/// A booking's location in words, for its invitee (who may see the video link).
fn location_text(location: Option<&Location>) -> String {
    match location {
        None => String::new(),
        Some(Location::InPerson { address }) => format!("In person at {address}"),
        Some(Location::Phone { number: Some(number) }) => format!("By phone: {number}"),
        Some(Location::Phone { number: None }) => "By phone: the host calls you".into(),
        Some(Location::Video { url }) => format!("Video call: {url}"),
    }
}

/// `start` as the invitee reads it, in their zone (the event's if theirs is unknown).
fn when_text(start: jiff::Timestamp, zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let local = start.to_zoned(tz);
    format!("{} ({zone})", local.strftime("%A %-d %B %Y, %H:%M"))
}

pub async fn manage(
    State(state): State<AppState>,
    Path(uid): Path<BookingId>,
    Query(query): Query<TokenQuery>,
) -> impl IntoResponse {
    let token = query.token.unwrap_or_default();
    let managed = match public_pages::managed_booking(&state, &uid, &token).await {
        Ok(managed) => managed,
        Err(err) => {
            return unavailable(
                err,
                "This booking was not found",
                "The link may be incomplete: open it from your confirmation email.",
            );
        }
    };
    let booking = &managed.booking;
    let rendered = ManagePage {
        title: format!("{} · {}", booking.event_title, managed.org_name),
        style: STYLE,
        event_slug: managed.event_slug.as_deref().unwrap_or_default(),
        when: when_text(booking.start, &booking.invitee.time_zone),
        status: status_text(booking.status),
        live: matches!(
            booking.status,
            BookingStatus::Confirmed | BookingStatus::PendingConfirmation
        ),
        location: location_text(booking.location.as_ref()),
        script: format!("{COMMON_JS}{MANAGE_JS}"),
        managed: &managed,
    };
    page(StatusCode::OK, &rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_list() {
        assert_eq!(durations_text(&[30]), "30 minutes");
        assert_eq!(durations_text(&[30, 60]), "30 or 60 minutes");
        assert_eq!(durations_text(&[15, 30, 60]), "15, 30 or 60 minutes");
    }

    #[test]
    fn the_start_reads_in_the_invitees_zone() {
        let start: jiff::Timestamp = "2026-03-04T10:00:00Z".parse().unwrap();
        assert_eq!(
            when_text(start, "Asia/Kolkata"),
            "Wednesday 4 March 2026, 15:30 (Asia/Kolkata)"
        );
    }
}
