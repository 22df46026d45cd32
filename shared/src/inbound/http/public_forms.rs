//! Public form routes (no session, no CSRF: nothing here acts with a
//! cookie's authority): the hosted page `/f/{public_id}` (server-rendered,
//! works without JavaScript, frameable by embedding sites) and the submit,
//! which takes JSON or a plain form post and answers problem+json, or for a
//! browser's form post the page again with the errors beside the fields.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use super::auth::RequestMeta;
use super::problem::ApiError;
use super::web::assets::{form_frame_script_url, stylesheet_url};
use crate::domain::form::{ATTRIBUTION_FIELDS, ATTRIBUTION_MAX, EMBED_FIELD, FieldKind, answer_text};
use crate::inbound::AppState;
use crate::services::forms::submit::{SubmitInput, public_form, submit_to};
use crate::services::forms::{FormError, FormRecord, render_token};

/// A submission's body is answers, never files: anything bigger is refused.
pub const MAX_SUBMIT_BYTES: usize = 64 * 1024;

fn own_origin(state: &AppState) -> Option<String> {
    url::Url::parse(&state.config.public_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// Whether a page on `origin` may post to the form (CORS): the form's own
/// pages always, other sites when the form allows any or names them.
fn origin_allowed(state: &AppState, form: &FormRecord, origin: &str) -> bool {
    form.spec.allowed_origins.is_empty()
        || form.spec.allowed_origins.iter().any(|o| o == origin)
        || own_origin(state).as_deref() == Some(origin)
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok())
}

fn cors(response: &mut Response, origin: Option<&str>) {
    let headers = response.headers_mut();
    headers.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
}

/// `OPTIONS` of the submit: the preflight of a cross-site JSON post.
pub async fn preflight(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap) -> Response {
    let form = match public_form(&state, &public_id).await {
        Ok(form) => form,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let origin = origin_of(&headers).filter(|o| origin_allowed(&state, &form, o));
    let mut response = StatusCode::NO_CONTENT.into_response();
    if origin.is_some() {
        let h = response.headers_mut();
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    cors(&mut response, origin);
    response
}

fn is_form_post(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<SubmitInput, ApiError> {
    if body.len() > MAX_SUBMIT_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if is_form_post(headers) {
        return Ok(SubmitInput::from_pairs(
            form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        ));
    }
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadRequest {
        code: "malformed_json",
        field: Some("body".into()),
        detail: "The body is not valid JSON.".into(),
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::field(
            "body",
            "not_an_object",
            "The body must be a JSON object.",
        ));
    };
    Ok(SubmitInput::from_json(object)?)
}

/// `POST /public/forms/{public_id}/submissions`.
pub async fn submit(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    Path(public_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match public_form(&state, &public_id).await {
        Ok(form) => form,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let origin = origin_of(&headers);
    if let Some(origin) = origin
        && !origin_allowed(&state, &form, origin)
    {
        let mut response = ApiError::Forbidden {
            code: "origin_not_allowed",
        }
        .into_response();
        cors(&mut response, None);
        return response;
    }
    let html = is_form_post(&headers) && wants_html(&headers);
    let mut response = match parse_body(&headers, &body) {
        Err(err) => err.into_response(),
        Ok(input) => {
            let kept = input.clone();
            match submit_to(&state, &form, input, &meta).await {
                Ok(outcome) if html => {
                    let target = match &outcome.redirect_url {
                        Some(url) if !embedded(&body) => url.clone(),
                        _ => format!("/f/{}?submitted=1{}", form.public_id, embed_flag(&body)),
                    };
                    see_other(&target)
                }
                Ok(outcome) => (StatusCode::CREATED, axum::Json(outcome)).into_response(),
                Err(FormError::Invalid(errors)) if html => {
                    let errors: Vec<(String, String)> = errors.into_iter().map(|e| (e.field, e.message)).collect();
                    render(
                        &state,
                        &form,
                        &kept,
                        &errors,
                        None,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        embedded(&body),
                    )
                }
                Err(FormError::TooFast) if html => render(
                    &state,
                    &form,
                    &kept,
                    &[],
                    Some("That was quick! Please check your answers and send the form again."),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    embedded(&body),
                ),
                Err(err) => ApiError::from(err).into_response(),
            }
        }
    };
    cors(&mut response, origin);
    response
}

fn embedded(body: &Bytes) -> bool {
    form_urlencoded::parse(body).any(|(k, v)| k == EMBED_FIELD && v == "1")
}

fn embed_flag(body: &Bytes) -> &'static str {
    if embedded(body) { "&embed=1" } else { "" }
}

fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(target) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

/// One field as the page draws it (the hosted page and the builder's preview).
pub(crate) struct PageField {
    pub(crate) key: String,
    pub(crate) kind: &'static str,
    pub(crate) input_type: &'static str,
    pub(crate) autocomplete: Option<&'static str>,
    pub(crate) label: String,
    pub(crate) help: Option<String>,
    pub(crate) placeholder: Option<String>,
    pub(crate) required: bool,
    pub(crate) value: String,
    pub(crate) checked: bool,
    pub(crate) options: Vec<(usize, String, bool)>,
    pub(crate) consent_text: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) described_by: String,
}

#[derive(Template)]
#[template(path = "form_page.html")]
struct FormPage {
    title: String,
    stylesheet: String,
    frame_script: String,
    action: String,
    rendered: String,
    embedded: bool,
    attribution: Vec<(String, String)>,
    fields: Vec<PageField>,
    errors: Vec<(String, String)>,
    notice: Option<&'static str>,
    thanks: Option<String>,
    /// In a frame, after a send, the form's redirect address: the thanks
    /// link it to the top window, and the frame script asks the embed
    /// script to go there (a frame cannot move its parent by itself).
    redirect: Option<String>,
}

pub(crate) fn page_fields(
    form: &FormRecord,
    answers: &BTreeMap<String, Value>,
    errors: &[(String, String)],
) -> Vec<PageField> {
    form.spec
        .fields
        .iter()
        .map(|f| {
            let given = answers.get(&f.key);
            let chosen: Vec<String> = match given {
                Some(Value::Array(items)) => items.iter().map(answer_text).collect(),
                Some(v) => vec![answer_text(v)],
                None => Vec::new(),
            };
            let value = match (given, f.kind) {
                (None, FieldKind::Hidden) => f.default_value.clone().unwrap_or_default(),
                (Some(v), _) => answer_text(v),
                (None, _) => String::new(),
            };
            let error = errors.iter().find(|(k, _)| *k == f.key).map(|(_, m)| m.clone());
            let mut described = Vec::new();
            if f.help.is_some() {
                described.push(format!("h-{}", f.key));
            }
            if error.is_some() {
                described.push(format!("e-{}", f.key));
            }
            let (input_type, autocomplete) = match f.kind {
                FieldKind::Email => ("email", Some("email")),
                FieldKind::Phone => ("tel", Some("tel")),
                FieldKind::Number => ("number", None),
                FieldKind::Date => ("date", None),
                _ => match f.key.as_str() {
                    "first_name" => ("text", Some("given-name")),
                    "last_name" => ("text", Some("family-name")),
                    "name" => ("text", Some("name")),
                    "company" => ("text", Some("organization")),
                    _ => ("text", None),
                },
            };
            PageField {
                key: f.key.clone(),
                kind: f.kind.as_str(),
                input_type,
                autocomplete,
                label: f.label.clone(),
                help: f.help.clone(),
                placeholder: f.placeholder.clone(),
                required: f.required,
                checked: given.is_some_and(|v| matches!(answer_text(v).as_str(), "on" | "yes" | "true" | "1")),
                options: f
                    .options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (i, o.clone(), chosen.contains(o)))
                    .collect(),
                value,
                consent_text: f.consent_text.clone(),
                error,
                described_by: described.join(" "),
            }
        })
        .collect()
}

fn render(
    state: &AppState,
    form: &FormRecord,
    input: &SubmitInput,
    errors: &[(String, String)],
    notice: Option<&'static str>,
    status: StatusCode,
    embedded: bool,
) -> Response {
    let now = state.clock.now().as_millisecond();
    let attribution = input
        .attribution
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    let page = FormPage {
        title: form.spec.title.clone(),
        stylesheet: stylesheet_url(),
        frame_script: form_frame_script_url(),
        action: format!("/public/forms/{}/submissions", form.public_id),
        rendered: render_token::stamp(&form.render_secret, &form.public_id, now),
        embedded,
        attribution,
        fields: page_fields(form, &input.answers, errors),
        errors: errors.to_vec(),
        notice,
        thanks: None,
        redirect: None,
    };
    page_response(form, status, &page)
}

fn page_response(form: &FormRecord, status: StatusCode, page: &FormPage) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "the form page failed to render");
            return ApiError::Internal("form page".into()).into_response();
        }
    };
    let ancestors = if form.spec.allowed_origins.is_empty() {
        "*".to_string()
    } else {
        format!("'self' {}", form.spec.allowed_origins.join(" "))
    };
    // After a post the browser follows the redirect to the form's thank-you
    // address: form-action must allow that origin too.
    let redirect_origin = form
        .spec
        .redirect_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'{redirect_origin}; base-uri 'none'; frame-ancestors {ancestors}"
    );
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn not_found_page() -> Response {
    let mut response = (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Form not found</title><h1>Form not found</h1><p>This form does not exist or no longer takes answers.</p></html>"),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors *"),
    );
    response
}

/// `GET /f/{public_id}`: the hosted form. `?embed=1` is the iframe mode;
/// `utm_*`, `referrer` and `page_url` in the query travel with the answers
/// (the embed script passes the embedding page's); `?submitted=1` thanks.
pub async fn page(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let form = match public_form(&state, &public_id).await {
        Ok(form) => form,
        Err(FormError::NotFound) => return not_found_page(),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let embedded = params.get(EMBED_FIELD).is_some_and(|v| v == "1");
    if params.get("submitted").is_some_and(|v| v == "1") {
        let page = FormPage {
            title: form.spec.title.clone(),
            stylesheet: stylesheet_url(),
            frame_script: form_frame_script_url(),
            action: String::new(),
            rendered: String::new(),
            embedded,
            attribution: Vec::new(),
            fields: Vec::new(),
            errors: Vec::new(),
            notice: None,
            thanks: Some(
                form.spec
                    .thank_you_message
                    .clone()
                    .unwrap_or_else(|| "Thank you! We received your answers.".into()),
            ),
            // Only in a frame: the hosted page itself was redirected already.
            redirect: form.spec.redirect_url.clone().filter(|_| embedded),
        };
        return page_response(&form, StatusCode::OK, &page);
    }
    let mut attribution = Map::new();
    for name in ATTRIBUTION_FIELDS {
        if let Some(value) = params.get(name).filter(|v| !v.is_empty()) {
            attribution.insert(
                name.to_string(),
                Value::String(value.chars().take(ATTRIBUTION_MAX).collect()),
            );
        }
    }
    if !attribution.contains_key("referrer")
        && let Some(referer) = headers.get(http::header::REFERER).and_then(|v| v.to_str().ok())
    {
        attribution.insert(
            "referrer".into(),
            Value::String(referer.chars().take(ATTRIBUTION_MAX).collect()),
        );
    }
    // Hidden fields the embedding page sets through the address.
    let answers: BTreeMap<String, Value> = form
        .spec
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Hidden)
        .filter_map(|f| Some((f.key.clone(), Value::String(params.get(&f.key)?.clone()))))
        .collect();
    let input = SubmitInput {
        answers,
        attribution,
        ..SubmitInput::default()
    };
    render(&state, &form, &input, &[], None, StatusCode::OK, embedded)
}
