//! `/app/profile`: the member's name and email, their photo, their
//! password, and signing out every device. The same services as
//! `PATCH /me`, `PUT`/`DELETE /me/photo` and `POST /auth/logout-all`: a new
//! email takes effect once verified, a photo is typed from its bytes, a new
//! password needs the current one and signs the other devices out.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;

use super::contacts::NoticeQuery;
use super::upload::StaffUpload;
use super::{
    Chrome, FieldErrors, FormData, PageError, PageResult, SIGN_IN, Staff, StaffForm, notice_text, render, see_other,
};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::session::{cleared_cookies, with_cookies};
use crate::services::accounts::{self, ProfileChange};
use crate::services::photos::{self, PhotoType};
use crate::services::{orgs, sessions};

#[derive(Template)]
#[template(path = "staff/profile.html")]
struct ProfilePage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    pending_email: Option<String>,
    email_verified: bool,
    org_zone: String,
    has_photo: bool,
}

async fn page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: Option<FormData>,
) -> Result<ProfilePage, PageError> {
    let me = accounts::me(state, &staff.auth.user_id, &staff.auth.org_id, staff.auth.role).await?;
    let form = form.unwrap_or_else(|| {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("name", me.name.as_str()),
                ("email", me.email.as_str()),
                ("time_zone", me.time_zone.as_deref().unwrap_or_default()),
            ])
            .finish();
        FormData::parse(encoded.as_bytes())
    });
    let org = orgs::org(state, &staff.auth.org_id).await?;
    let staff = staff.in_section("profile");
    Ok(ProfilePage {
        title: "Profile",
        chrome: Some(staff.chrome),
        notice,
        errors,
        form,
        pending_email: me.pending_email,
        email_verified: me.email_verified,
        org_zone: org.time_zone,
        has_photo: me.has_photo,
    })
}

/// `GET /app/profile`.
pub async fn profile(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    let page = page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        None,
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/profile`: the details form (name, email), the password form
/// or the time zone form.
pub async fn save_profile(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let changing_password = form.optional("new_password").is_some();
    let changing_zone = form.text("form") == "time_zone";
    let change = if changing_zone {
        ProfileChange {
            name: None,
            email: None,
            current_password: None,
            new_password: None,
            time_zone: Some(form.text("time_zone")),
        }
    } else if changing_password {
        ProfileChange {
            name: None,
            email: None,
            current_password: form.optional("current_password"),
            new_password: form.optional("new_password"),
            time_zone: None,
        }
    } else {
        ProfileChange {
            name: Some(form.text("name")),
            email: Some(form.text("email")),
            current_password: form.optional("current_password"),
            new_password: None,
            time_zone: None,
        }
    };
    let saved = accounts::update_profile(
        &state,
        &staff.auth.user_id,
        &staff.auth.session_token,
        change,
        &staff.auth.actor,
    )
    .await
    .map_err(ApiError::from);
    match saved {
        Ok(()) if changing_zone => Ok(see_other("/app/profile?notice=time-zone-saved")),
        Ok(()) if changing_password => Ok(see_other("/app/profile?notice=password-saved")),
        Ok(()) => Ok(see_other("/app/profile?notice=profile-saved")),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api(&err, |field| field);
            let page = page(&state, staff, None, errors, Some(form)).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/profile/photo`: the photo form (a file, as a multipart
/// form): stores the chosen image, or removes the photo (`action=remove`);
/// a file that is no PNG, JPEG or WebP image comes back beside the field.
pub async fn save_photo(State(state): State<AppState>, upload: StaffUpload) -> PageResult {
    let StaffUpload { staff, form, files } = upload;
    let user = staff.auth.user_id.clone();
    let actor = staff.auth.actor.clone();
    if form.text("action") == "remove" {
        photos::remove(&state, &user, &actor).await?;
        return Ok(see_other("/app/profile?notice=photo-removed"));
    }
    let chosen = files
        .into_iter()
        .find(|part| part.name == "photo" && part.filename.as_deref().is_some_and(|f| !f.is_empty()));
    let saved = match chosen {
        None => Err(ApiError::field("photo", "required", "Choose an image file.")),
        Some(file) => {
            // A browser names the part's type from the file's extension; the
            // bytes decide, and anything else is refused by the service.
            let kind = PhotoType::sniff(&file.bytes).map(PhotoType::mime);
            photos::replace(
                &state,
                &user,
                kind.or(Some("application/octet-stream")),
                file.bytes,
                &actor,
            )
            .await
            .map(|_| ())
            .map_err(ApiError::from)
        }
    };
    match saved {
        Ok(()) => Ok(see_other("/app/profile?notice=photo-saved")),
        Err(err @ (ApiError::Validation(_) | ApiError::PayloadTooLarge)) => {
            let errors = match err {
                ApiError::PayloadTooLarge => FieldErrors::from_api(
                    &ApiError::field("photo", "too_large", "Choose an image of at most 1 MiB."),
                    |field| field,
                ),
                other => FieldErrors::from_api(&other, |_| "photo"),
            };
            let page = page(&state, staff, None, errors, None).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/profile/sign-out-everywhere`: ends every session of the
/// account, this one included.
pub async fn sign_out_everywhere(State(state): State<AppState>, StaffForm { staff, .. }: StaffForm) -> PageResult {
    sessions::revoke_all_recorded(
        state.table.as_ref(),
        &staff.auth.user_id,
        None,
        sessions::Revocation::LogoutAll,
        &staff.auth.actor,
        state.clock.now(),
    )
    .await?;
    Ok(with_cookies(
        see_other(&format!("{SIGN_IN}?notice=signed-out-everywhere")),
        cleared_cookies(&state.config),
    ))
}
