//! The public scheduling pages (issue 5, point 4): `/book/{org}/{event}` (pick
//! a day and a time in the visitor's zone, give name, email and optionally a
//! phone with SMS consent, book, see the confirmation and the manage link)
//! and `/booking/{uid}?token=` (cancel or reschedule).
//!
//! Plain HTML with responsive CSS and one small vanilla script each; the
//! script calls the public JSON API and writes every value it shows through
//! `textContent`, never as markup. The only server-side interpolations (the
//! path segments) are HTML-escaped. Served with a strict CSP and no caching.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::inbound::AppState;

/// The consent text shown beside the SMS checkbox (privacy policy §6).
pub const SMS_CONSENT_TEXT: &str = "Text me about this appointment at this number: a confirmation, reminders, and notice of changes (typically 1–3 messages per appointment). Message and data rates may apply. Reply STOP to opt out, HELP for help.";

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;color:#1c1c1c;line-height:1.4;overflow-wrap:anywhere}\
a{word-break:break-all}\
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}.muted{color:#555}\
.grid{display:flex;flex-wrap:wrap;gap:.5rem}.grid button{flex:1 1 7rem;min-height:2.75rem}\
button{padding:.6rem 1rem;font-size:1rem;border:1px solid #2456d3;border-radius:.4rem;background:#fff;color:#2456d3;cursor:pointer}\
button.primary,button[aria-pressed=true]{background:#2456d3;color:#fff}button:disabled{opacity:.5}\
label{display:block;margin:.8rem 0 .2rem}input,select,textarea{width:100%;padding:.6rem;font-size:1rem;border:1px solid #bbb;border-radius:.3rem}\
label.check{display:flex;gap:.6rem;align-items:flex-start;font-size:.9rem}label.check input{width:auto;margin-top:.2rem}\
#status{margin-top:1rem}.error{color:#b00020}.ok{color:#1b7f3a}.card{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin-top:1rem}\
@media (max-width:30rem){body{padding:.75rem}h1{font-size:1.2rem}.grid button{flex:1 1 40%}}";

fn page(title: &str, body: &str, script: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Konnecs</title><style>{STYLE}</style></head><body>{body}<p id=\"status\" role=\"status\" aria-live=\"polite\"></p>\
         <script>{script}</script></body></html>",
        title = escape(title)
    );
    let mut response = Html(html).into_response();
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
  $('title').textContent = event.title || 'Book';
  document.title = (event.title || 'Book') + ' · Konnecs';
  $('org').textContent = event.org_name || event.organization || '';
  $('description').textContent = event.description || '';
  const durations = event.durations || [];
  if (durations.length > 1) {
    const select = document.createElement('select'); select.id = 'duration';
    for (const d of durations) { const o = document.createElement('option'); o.value = d; o.textContent = d + ' min'; if (d === event.default_duration) o.selected = true; select.append(o); }
    select.addEventListener('change', refresh);
    const label = document.createElement('label'); label.textContent = 'Duration'; label.append(select); $('durationBox').append(label);
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

pub fn book() -> MethodRouter<AppState> {
    get(|Path((org_slug, event_slug)): Path<(String, String)>| async move {
        let body = format!(
            "<header><p class=\"muted\" id=\"org\"></p><h1 id=\"title\">Book</h1><p id=\"description\" class=\"muted\"></p><div id=\"durationBox\" class=\"muted\"></div></header>\
             <main data-page=\"book\"><section id=\"picker\" hidden><h2>Pick a day</h2><p class=\"muted\">Times are shown in <span id=\"zone\"></span>.</p>\
             <div id=\"days\" class=\"grid\"></div><h2>Pick a time</h2><div id=\"times\" class=\"grid\"></div></section>\
             <section id=\"details\" class=\"card\" hidden><h2>Your details</h2><p>Time: <strong id=\"chosen\"></strong></p><form id=\"form\">\
             <label>Name<input id=\"name\" name=\"name\" autocomplete=\"name\" required maxlength=\"200\"></label>\
             <label>Email<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required maxlength=\"254\"></label>\
             <label>Phone (optional)<input id=\"phone\" name=\"phone\" type=\"tel\" autocomplete=\"tel\" maxlength=\"40\"></label>\
             <div id=\"consentBox\" hidden><label class=\"check\"><input id=\"consent\" name=\"sms_consent\" type=\"checkbox\"><span id=\"consentText\">{consent}</span></label></div>\
             <div id=\"questions\"></div><button id=\"submit\" class=\"primary\" type=\"submit\">Book</button></form></section>\
             <section id=\"confirmation\" class=\"card\" hidden><h2>You're booked</h2><p>See you on <strong id=\"confirmedWhen\"></strong>. A confirmation is on its way by email.</p>\
             <p>To reschedule or cancel, keep this link: <a id=\"manage\" href=\"#\"></a></p></section></main>",
            consent = escape(SMS_CONSENT_TEXT),
        );
        // The slugs reach the script as data attributes, never as code.
        let body = format!(
            "{body}<script>document.body.dataset.org = {org}; document.body.dataset.event = {event};</script>",
            org = js_string(&org_slug),
            event = js_string(&event_slug),
        );
        page("Book", &body, &format!("{COMMON_JS}{BOOK_JS}"))
    })
}

const MANAGE_JS: &str = r#"
const uid = document.body.dataset.uid;
const token = new URLSearchParams(location.search).get('token') || '';
const base = '/public/bookings/' + encodeURIComponent(uid);
let booking = null, chosen = null;
function show(b) {
  booking = b.booking || b;
  $('title').textContent = booking.event_title || booking.title || 'Your booking';
  $('when').textContent = whenLabel(booking.start || booking.starts_at);
  $('state').textContent = booking.status || '';
  const live = ['confirmed', 'pending_confirmation'].includes(booking.status);
  $('actions').hidden = !live;
}
async function start() {
  if (!token) { say('This link is missing its token.', 'error'); return; }
  try { show(await api('GET', base + '?token=' + encodeURIComponent(token))); $('booking').hidden = false; }
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

#[derive(Debug, Default, serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: Option<String>,
}

/// The org and event-type slugs of a booking whose manage token matches, so
/// the page can offer that event type's free times for a reschedule. Any
/// failure (wrong token, gone records) leaves them out; the page then shows
/// what the API answers.
async fn booking_slugs(state: &AppState, uid: &str, token: &str) -> Option<(String, String)> {
    use crate::services::records::{OrgRecord, from_item, org_key};
    use crate::services::scheduling::{bookings, event_types};
    let table = state.table.as_ref();
    let org_id = bookings::org_of_token(table, uid, token).await.ok()?;
    let booking = bookings::get_record(table, &org_id, uid).await.ok()?;
    let event = event_types::get_record(table, &org_id, &booking.event_type_id)
        .await
        .ok()?;
    let org: OrgRecord = from_item(table.get(&org_key(&org_id)).await.ok()??).ok()?;
    Some((org.slug, event.slug))
}

pub fn manage() -> MethodRouter<AppState> {
    get(
        |State(state): State<AppState>, Path(uid): Path<String>, Query(query): Query<TokenQuery>| async move {
            let (org_slug, event_slug) = booking_slugs(&state, &uid, query.token.as_deref().unwrap_or_default())
                .await
                .unwrap_or_default();
            let body = format!(
                "<h1 id=\"title\">Your booking</h1><section id=\"booking\" hidden><p>When: <strong id=\"when\"></strong></p><p class=\"muted\">Status: <span id=\"state\"></span></p>\
             <div id=\"actions\" class=\"card\"><h2>Change it</h2><button id=\"reschedule\" type=\"button\">Reschedule</button>\
             <section id=\"picker\" hidden><h2>Pick a new day</h2><div id=\"days\" class=\"grid\"></div><h2>Pick a new time</h2><div id=\"times\" class=\"grid\"></div>\
             <p><button id=\"confirmMove\" class=\"primary\" type=\"button\" hidden>Move to <span id=\"newWhen\"></span></button></p></section>\
             <label>Reason for cancelling (optional)<input id=\"reason\" maxlength=\"500\"></label><p><button id=\"cancel\" type=\"button\">Cancel booking</button></p></div></section>\
             <script>document.body.dataset.uid = {uid}; document.body.dataset.org = {org}; document.body.dataset.event = {event};</script>",
                uid = js_string(&uid),
                org = js_string(&org_slug),
                event = js_string(&event_slug),
            );
            page("Your booking", &body, &format!("{COMMON_JS}{MANAGE_JS}"))
        },
    )
}

/// A JSON string literal safe inside a `<script>` element: `<`, `>` and `&`
/// are written as escapes, so no value can close the element.
pub fn js_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn js_strings_cannot_close_the_script_element() {
        let literal = js_string("</script><script>alert(1)</script>");
        assert!(!literal.contains('<') && !literal.contains('>'), "{literal}");
        assert_eq!(
            serde_json::from_str::<String>(&literal).unwrap(),
            "</script><script>alert(1)</script>"
        );
    }
}
