//! Form pages: the organization's forms with their submission counts, the
//! builder (fields added, edited, removed and reordered by drag or by the
//! Move buttons; settings; a preview drawn by the hosted page's own
//! template; the embed snippets with copy buttons) and a form's submissions
//! with their contacts. Every change is a plain form post (one new version
//! of the form each) through the same services as `/forms`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{Chrome, FieldErrors, FormData, PageResult, Staff, StaffForm, local_time, render, see_other};
use crate::domain::form::{ConsentChannel, FieldKind, FormField, FormSpec, answer_text};
use crate::domain::ids::FormId;
use crate::inbound::AppState;
use crate::inbound::http::forms::{caller, embed};
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::public_forms::{PageField, page_fields};
use crate::services::forms::definitions::get_record;
use crate::services::forms::submissions::{self, ListQuery};
use crate::services::forms::{self, FormRecord};
use crate::services::orgs;

pub const KINDS: [(&str, &str); 11] = [
    ("short_text", "Short text"),
    ("long_text", "Long text"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("number", "Number"),
    ("single_select", "Single choice"),
    ("multi_select", "Multiple choice"),
    ("checkbox", "Checkbox"),
    ("date", "Date"),
    ("hidden", "Hidden"),
    ("consent", "Consent (SMS or email)"),
];

fn kind_label(kind: FieldKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind.as_str())
        .map_or("Field", |(_, label)| label)
}

pub struct FormRow {
    pub id: String,
    pub title: String,
    pub count: i64,
    pub active: bool,
    pub version: u64,
}

#[derive(Template)]
#[template(path = "staff/forms.html")]
struct FormsPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    forms: Vec<FormRow>,
    errors: FieldErrors,
    new_title: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "form-created" => Some("Form created: add its fields, then embed it."),
        "form-saved" => Some("Form saved as a new version."),
        other => super::notice_text(Some(other)),
    }
}

async fn forms_page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    new_title: String,
) -> Result<FormsPage, ApiError> {
    let caller = caller(&staff.auth)?;
    let forms = forms::list(state, &caller).await?;
    Ok(FormsPage {
        title: "Forms",
        chrome: Some(staff.in_section("forms").chrome),
        notice,
        forms: forms
            .into_iter()
            .map(|s| FormRow {
                id: s.form.id.to_string(),
                title: s.form.spec.title.clone(),
                count: s.submission_count,
                active: s.form.spec.active,
                version: s.form.version,
            })
            .collect(),
        errors,
        new_title,
    })
}

/// `GET /app/forms`.
pub async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<NoticeQuery>) -> PageResult {
    let page = forms_page(
        &state,
        staff,
        notice(q.notice.as_deref()),
        FieldErrors::default(),
        String::new(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

fn starter_fields() -> Vec<FormField> {
    let field = |key: &str, kind: FieldKind, label: &str| FormField {
        key: key.into(),
        kind,
        label: label.into(),
        help: None,
        placeholder: None,
        required: true,
        min_length: None,
        max_length: None,
        pattern: None,
        min: None,
        max: None,
        options: Vec::new(),
        consent_channel: None,
        consent_text: None,
        default_value: None,
    };
    vec![
        field("name", FieldKind::ShortText, "Your name"),
        field("email", FieldKind::Email, "Email"),
    ]
}

/// `POST /app/forms`: a new form with a name and an email field.
pub async fn create(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let spec = FormSpec {
        title: form.text("title"),
        fields: starter_fields(),
        thank_you_message: None,
        redirect_url: None,
        tags: Vec::new(),
        owner_id: None,
        recipients: Vec::new(),
        active: true,
        allowed_origins: Vec::new(),
    };
    match forms::create(&state, &caller, spec).await {
        Ok(created) => Ok(see_other(&format!("/app/forms/{}?notice=form-created", created.id))),
        Err(err) => {
            let err = ApiError::from(err);
            if !matches!(err, ApiError::Validation(_)) {
                return Err(err.into());
            }
            let errors = FieldErrors::from_api(&err, |field| if field == "title" { "new-title" } else { field });
            let page = forms_page(&state, staff, None, errors, form.text("title")).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// A field as the builder lists it.
pub struct FieldRow {
    pub key: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub label: String,
    pub required: bool,
    pub help: String,
    pub placeholder: String,
    pub options: String,
    pub min_length: String,
    pub max_length: String,
    pub pattern: String,
    pub min: String,
    pub max: String,
    pub consent_channel: String,
    pub consent_text: String,
    pub default_value: String,
    pub first: bool,
    pub last: bool,
}

/// The builder's preview alone: what the builder's htmx swaps in while a
/// field's settings are typed, before they are saved.
#[derive(Template)]
#[template(path = "staff/form_preview.html")]
struct PreviewFragment {
    title: String,
    fields: Vec<PageField>,
}

#[derive(Template)]
#[template(path = "staff/form_builder.html")]
struct BuilderPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    form_id: String,
    version: u64,
    active: bool,
    count: i64,
    hosted_url: String,
    iframe: String,
    script: String,
    rows: Vec<FieldRow>,
    /// The preview, drawn by the hosted page's template.
    fields: Vec<PageField>,
    settings: BTreeMap<&'static str, String>,
    owners: Vec<(String, String, bool)>,
    kinds: [(&'static str, &'static str); 11],
    errors: FieldErrors,
    /// Which form the errors belong to: "settings", "add" or a field key.
    failed: String,
    form: FormData,
}

fn number_text(n: Option<f64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn rows(spec: &FormSpec) -> Vec<FieldRow> {
    let last = spec.fields.len().saturating_sub(1);
    spec.fields
        .iter()
        .enumerate()
        .map(|(i, f)| FieldRow {
            key: f.key.clone(),
            kind: f.kind.as_str(),
            kind_label: kind_label(f.kind),
            label: f.label.clone(),
            required: f.required,
            help: f.help.clone().unwrap_or_default(),
            placeholder: f.placeholder.clone().unwrap_or_default(),
            options: f.options.join("\n"),
            min_length: f.min_length.map(|n| n.to_string()).unwrap_or_default(),
            max_length: f.max_length.map(|n| n.to_string()).unwrap_or_default(),
            pattern: f.pattern.clone().unwrap_or_default(),
            min: number_text(f.min),
            max: number_text(f.max),
            consent_channel: match f.consent_channel {
                Some(ConsentChannel::Sms) => "sms".into(),
                Some(ConsentChannel::Email) => "email".into(),
                None => String::new(),
            },
            consent_text: f.consent_text.clone().unwrap_or_default(),
            default_value: f.default_value.clone().unwrap_or_default(),
            first: i == 0,
            last: i == last,
        })
        .collect()
}

async fn builder(
    state: &AppState,
    staff: Staff,
    record: &FormRecord,
    notice: Option<&'static str>,
    errors: FieldErrors,
    failed: String,
    form: FormData,
) -> Result<BuilderPage, ApiError> {
    let caller = caller(&staff.auth)?;
    let summary = forms::get(state, &caller, &record.id).await?;
    let snippets = embed(state, &summary.form);
    let (members, _) = orgs::list_members(state, &caller.org_id, 100, None).await?;
    let spec = &record.spec;
    let mut settings = BTreeMap::new();
    settings.insert("title", spec.title.clone());
    settings.insert("thank_you_message", spec.thank_you_message.clone().unwrap_or_default());
    settings.insert("redirect_url", spec.redirect_url.clone().unwrap_or_default());
    settings.insert("tags", spec.tags.join(", "));
    settings.insert("recipients", spec.recipients.join(", "));
    settings.insert("allowed_origins", spec.allowed_origins.join("\n"));
    Ok(BuilderPage {
        title: spec.title.clone(),
        chrome: Some(staff.in_section("forms").chrome),
        notice,
        form_id: record.id.to_string(),
        version: record.version,
        active: spec.active,
        count: summary.submission_count,
        hosted_url: snippets.hosted_url,
        iframe: snippets.iframe,
        script: snippets.script,
        rows: rows(spec),
        fields: page_fields(record, &BTreeMap::new(), &[]),
        settings,
        owners: members
            .into_iter()
            .map(|m| {
                let chosen = spec.owner_id.as_ref() == Some(&m.user_id);
                (m.user_id.to_string(), m.name, chosen)
            })
            .collect(),
        kinds: KINDS,
        errors,
        failed,
        form,
    })
}

impl BuilderPage {
    /// The value of a field of the failed form, else the saved one.
    fn value(&self, which: &str, name: &str, saved: &str) -> String {
        if self.failed == which {
            self.form.text(name)
        } else {
            saved.to_string()
        }
    }

    fn error(&self, which: &str, field: &str) -> Option<&str> {
        if self.failed == which {
            self.errors.get(field)
        } else {
            None
        }
    }

    fn setting(&self, name: &str) -> String {
        let saved = self.settings.get(name).cloned().unwrap_or_default();
        self.value("settings", name, &saved)
    }
}

/// `GET /app/forms/{formId}`: the builder.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<FormId>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let record = get_record(state.table.as_ref(), &caller.org_id, &id)
        .await
        .map_err(ApiError::from)?;
    let page = builder(
        &state,
        staff,
        &record,
        notice(q.notice.as_deref()),
        FieldErrors::default(),
        String::new(),
        FormData::default(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

fn list_of(raw: &str) -> Vec<String> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn optional_number<T: std::str::FromStr>(form: &FormData, name: &str, errors: &mut Vec<(String, String)>) -> Option<T> {
    let raw = form.optional(name)?;
    match raw.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push((name.to_string(), "Enter a number.".into()));
            None
        }
    }
}

/// A field from the builder's field form (add or edit).
fn field_from(form: &FormData, errors: &mut Vec<(String, String)>) -> FormField {
    let kind: FieldKind = serde_json::from_value(Value::String(form.text("kind"))).unwrap_or(FieldKind::ShortText);
    let text_checks = matches!(kind, FieldKind::ShortText | FieldKind::LongText);
    FormField {
        key: form.text("key"),
        kind,
        label: form.text("label"),
        help: form.optional("help"),
        placeholder: form.optional("placeholder"),
        required: !form.text("required").is_empty(),
        min_length: if text_checks {
            optional_number(form, "min_length", errors)
        } else {
            None
        },
        max_length: if text_checks {
            optional_number(form, "max_length", errors)
        } else {
            None
        },
        pattern: if text_checks { form.optional("pattern") } else { None },
        min: if kind == FieldKind::Number {
            optional_number(form, "min", errors)
        } else {
            None
        },
        max: if kind == FieldKind::Number {
            optional_number(form, "max", errors)
        } else {
            None
        },
        options: if matches!(kind, FieldKind::SingleSelect | FieldKind::MultiSelect) {
            form.text("options")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        },
        consent_channel: if kind == FieldKind::Consent {
            match form.text("consent_channel").as_str() {
                "email" => Some(ConsentChannel::Email),
                _ => Some(ConsentChannel::Sms),
            }
        } else {
            None
        },
        consent_text: if kind == FieldKind::Consent {
            form.optional("consent_text")
        } else {
            None
        },
        default_value: if kind == FieldKind::Hidden {
            form.optional("default_value")
        } else {
            None
        },
    }
}

/// Which of the builder's forms a post came from ("settings", "add", a
/// field's key), and the fields it could not even read (not numbers).
type Applied = (String, Vec<(String, String)>);

/// What one post of the builder changes in the form's settings.
fn apply(spec: &mut FormSpec, form: &FormData) -> Result<Applied, &'static str> {
    let mut errors = Vec::new();
    let action = form.text("action");
    let key = form.text("field");
    let index = spec.fields.iter().position(|f| f.key == key);
    match action.as_str() {
        "settings" => {
            spec.title = form.text("title");
            spec.thank_you_message = form.optional("thank_you_message");
            spec.redirect_url = form.optional("redirect_url");
            spec.tags = list_of(&form.text("tags"));
            spec.recipients = list_of(&form.text("recipients"));
            spec.allowed_origins = list_of(&form.text("allowed_origins"));
            spec.owner_id = form.optional("owner_id").map(Into::into);
            spec.active = !form.text("active").is_empty();
            Ok(("settings".into(), errors))
        }
        "add" => {
            spec.fields.push(field_from(form, &mut errors));
            Ok(("add".into(), errors))
        }
        "edit" => {
            let i = index.ok_or("no such field")?;
            // A field keeps its name and kind; the rest is as posted.
            let posted = FormData::parse(form_urlencoded_with(form, "kind", spec.fields[i].kind.as_str()).as_bytes());
            spec.fields[i] = FormField {
                key: key.clone(),
                ..field_from(&posted, &mut errors)
            };
            Ok((key, errors))
        }
        "remove" => {
            let i = index.ok_or("no such field")?;
            spec.fields.remove(i);
            Ok(("fields".into(), errors))
        }
        "up" | "down" => {
            let i = index.ok_or("no such field")?;
            let j = if action == "up" {
                i.checked_sub(1)
            } else {
                Some(i + 1).filter(|j| *j < spec.fields.len())
            };
            if let Some(j) = j {
                spec.fields.swap(i, j);
            }
            Ok(("fields".into(), errors))
        }
        "order" => {
            let order = list_of(&form.text("order"));
            let mut sorted = Vec::with_capacity(spec.fields.len());
            for key in &order {
                if let Some(f) = spec.fields.iter().find(|f| &f.key == key)
                    && !sorted.iter().any(|s: &FormField| &s.key == key)
                {
                    sorted.push(f.clone());
                }
            }
            if sorted.len() != spec.fields.len() {
                return Err("the order names every field once");
            }
            spec.fields = sorted;
            Ok(("fields".into(), errors))
        }
        _ => Err("unknown action"),
    }
}

/// The posted pairs again with `name` set to `value`.
fn form_urlencoded_with(form: &FormData, name: &str, value: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form.pairs().filter(|(k, _)| *k != name) {
        out.append_pair(k, v);
    }
    out.append_pair(name, value);
    out.finish()
}

/// The builder's field names of a spec error (`fields[2].label` → `label`).
fn rename(field: &str) -> String {
    match field.split_once("].") {
        Some((_, rest)) => rest.to_string(),
        None => field.to_string(),
    }
}

/// `POST /app/forms/{formId}`: one change (settings, add, edit, remove,
/// up, down, order), saved as a new version of the form; with `preview=1`
/// (the builder's htmx, per keystroke, debounced) only the preview of the
/// change is answered and nothing is saved.
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<FormId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let record = get_record(state.table.as_ref(), &caller.org_id, &id)
        .await
        .map_err(ApiError::from)?;
    let mut spec = record.spec.clone();
    let (which, parse_errors) = apply(&mut spec, &form).map_err(|reason| ApiError::BadRequest {
        code: "invalid_action",
        field: Some("action".into()),
        detail: reason.into(),
    })?;
    if form.text("preview") == "1" {
        // The change as typed so far, drawn and not saved (nor validated:
        // the save says what is wrong).
        let preview = FormRecord { spec, ..record };
        let fragment = PreviewFragment {
            title: preview.spec.title.clone(),
            fields: page_fields(&preview, &BTreeMap::new(), &[]),
        };
        return Ok(render(StatusCode::OK, &fragment));
    }
    let expected = form.text("version").parse::<u64>().ok();
    let result = if parse_errors.is_empty() {
        forms::update(&state, &caller, &id, spec, expected)
            .await
            .map_err(ApiError::from)
    } else {
        Err(ApiError::Validation(
            parse_errors
                .into_iter()
                .map(|(f, m)| crate::domain::input::FieldError::new(f, "invalid", m))
                .collect(),
        ))
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/app/forms/{id}?notice=form-saved"))),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api_owned(&err, rename);
            let page = builder(&state, staff, &record, None, errors, which, form).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => Err(err.into()),
    }
}

pub struct SubmissionRow {
    pub id: String,
    pub at: String,
    pub contact_id: Option<String>,
    pub version: u64,
    pub summary: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "staff/form_submissions.html")]
struct SubmissionsPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    form_id: String,
    rows: Vec<SubmissionRow>,
    next: Option<String>,
    time_zone: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PageQuery {
    /// The next page's cursor, as the page's "Older" link carries it.
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /app/forms/{formId}/submissions`: newest first, with contacts linked.
pub async fn submissions_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<FormId>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let record = get_record(state.table.as_ref(), &caller.org_id, &id)
        .await
        .map_err(ApiError::from)?;
    let page = submissions::list(
        &state,
        &caller,
        &id,
        ListQuery {
            limit: Some(50),
            cursor: q.cursor.filter(|c| !c.is_empty()),
            ..ListQuery::default()
        },
    )
    .await
    .map_err(ApiError::from)?;
    let labels: BTreeMap<&str, &str> = record
        .spec
        .fields
        .iter()
        .map(|f| (f.key.as_str(), f.label.as_str()))
        .collect();
    let rows = page
        .items
        .iter()
        .map(|s| SubmissionRow {
            id: s.id.to_string(),
            at: local_time(&s.submitted_at, &staff.time_zone),
            contact_id: s.contact_id.as_ref().map(ToString::to_string),
            version: s.form_version,
            summary: s
                .answers
                .iter()
                .map(|(k, v)| {
                    (
                        labels.get(k.as_str()).map_or(k.clone(), |l| (*l).to_string()),
                        answer_text(v),
                    )
                })
                .collect(),
        })
        .collect();
    let time_zone = staff.time_zone.clone();
    let view = SubmissionsPage {
        title: format!("{} · submissions", record.spec.title),
        chrome: Some(staff.in_section("forms").chrome),
        notice: None,
        form_id: id.to_string(),
        rows,
        next: page
            .next_cursor
            .map(|c| url::form_urlencoded::byte_serialize(c.as_bytes()).collect()),
        time_zone,
    };
    Ok(render(StatusCode::OK, &view))
}
