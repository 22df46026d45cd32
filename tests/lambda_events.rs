//! Every Lambda's sample event (`events/<name>.json`) through the same handler
//! code `konnecs::lambda::run` serves, with the AWS adapters against the moto
//! emulator (`KONNECS_TEST_AWS_ENDPOINT`), as in a deployed function.
//!
//! Each sample runs against the data it refers to: the account of Dana
//! Whitfield (Whitfield Dental, `whitfield-dental`), the contact, booking,
//! token… its ids name, made through the API first. Their ids are random, so
//! the test puts them in place of the sample's (as it does the session
//! placeholders `SESSION_TOKEN` and `CSRF_TOKEN`); the samples keep realistic
//! ids. The clock stands a week before the samples' appointments. Each test
//! asserts what its sample does, and a sample that is refused says why in its
//! test name. `sample_tests!` lists one test per Lambda: a Lambda without
//! one fails `every_lambda_has_a_sample_test`.
//!
//! The generic samples exercise the SQS and schedule machinery itself.

#[path = "lambda_events/account.rs"]
mod account;
#[path = "lambda_events/billing.rs"]
mod billing;
#[path = "lambda_events/crm.rs"]
mod crm;
#[path = "lambda_events/events.rs"]
mod events;
#[path = "lambda_events/forms.rs"]
mod forms;
#[path = "lambda_events/gmail.rs"]
mod gmail;
#[path = "lambda_events/google.rs"]
mod google;
#[path = "lambda_events/scheduling.rs"]
mod scheduling;
#[path = "lambda_events/sms.rs"]
mod sms;
#[path = "lambda_events/web.rs"]
mod web;
#[path = "lambda_events/webhooks.rs"]
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use futures::FutureExt;
use futures::future::BoxFuture;
use http::StatusCode;
use http_body_util::BodyExt;
use jiff::Timestamp;
use konnecs::app::AppState;
use konnecs::catalogue::{self, Entry, Runtime, Trigger};
use konnecs::inbound::events::{BatchOutcome, Message, TickError, TickReport};
use konnecs::lambda::{handle_schedule, handle_sqs};
use konnecs::ports::{Query, TestClock};
use konnecs::services::jobs::Job;
use konnecs_tests::http::{Browser, Reply};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Tuesday 1 December 2026, 08:00 UTC: a week before the samples' appointment.
const NOW: &str = "2026-12-01T08:00:00Z";
const DANA_EMAIL: &str = "dana@whitfield-dental.example";
const DANA_PASSWORD: &str = "molar-crown-42-bridge";

macro_rules! sample_tests {
    ($($entry:literal => $module:ident :: $test:ident),+ $(,)?) => {
        /// The Lambdas with a sample test.
        const SAMPLE_TESTS: &[&str] = &[$($entry),+];
        $(
            #[tokio::test]
            async fn $test() {
                $module::$test($entry).await;
            }
        )+
    };
}

sample_tests! {
    "health" => account::health_reports_store_queue_and_key_vault_ok,
    "openapi" => account::openapi_describes_every_route,
    "auth-signup" => account::auth_signup_creates_the_account_signed_in_and_queues_its_verification_email,
    "auth-login" => account::auth_login_signs_the_account_in,
    "auth-logout" => account::auth_logout_ends_the_session,
    "auth-logout-all" => account::auth_logout_all_ends_every_session_of_the_account,
    "auth-csrf" => account::auth_csrf_answers_the_sessions_token,
    "auth-verify-email" => account::auth_verify_email_verifies_with_the_emailed_token,
    "auth-verify-email-resend" => account::auth_verify_email_resend_queues_a_new_link,
    "auth-password-forgot" => account::auth_password_forgot_queues_a_reset_link,
    "auth-password-reset" => account::auth_password_reset_sets_the_new_password_with_the_emailed_token,
    "page-verify-email" => account::page_verify_email_posts_the_links_token,
    "page-reset-password" => account::page_reset_password_asks_for_the_new_password,
    "page-accept-invitation" => account::page_accept_invitation_asks_for_name_and_password,
    "me-get" => account::me_get_shows_the_signed_in_user,
    "me-update" => account::me_update_renames_the_user,
    "me-photo-put" => account::me_photo_put_stores_the_png,
    "me-photo-get" => account::me_photo_get_serves_the_stored_photo,
    "me-photo-delete" => account::me_photo_delete_removes_the_photo,
    "org-get" => account::org_get_shows_the_organization,
    "org-update" => account::org_update_changes_name_zone_and_slug,
    "org-deletion-get" => account::org_deletion_get_shows_no_deletion_pending,
    "org-deletion-request" => account::org_deletion_request_schedules_the_purge_after_the_grace_window,
    "org-deletion-cancel" => account::org_deletion_cancel_restores_the_organization,
    "org-purge-tick" => events::org_purge_tick_queues_the_purge_of_the_organization_past_its_grace_window,
    "members-list" => account::members_list_shows_the_owner,
    "members-update" => account::members_update_makes_the_member_an_admin,
    "members-remove" => account::members_remove_removes_the_member,
    "invitations-create" => account::invitations_create_invites_and_emails_the_link,
    "invitations-list" => account::invitations_list_shows_the_pending_invitation,
    "invitations-revoke" => account::invitations_revoke_withdraws_the_invitation,
    "invitations-accept" => account::invitations_accept_joins_the_organization_with_the_emailed_token,
    "audit-list" => account::audit_list_shows_what_the_account_did,
    "webhooks-list" => webhooks::webhooks_list_shows_the_endpoint,
    "webhooks-create" => webhooks::webhooks_create_adds_the_endpoint_and_shows_its_secret_once,
    "webhooks-update" => webhooks::webhooks_update_turns_the_endpoint_off,
    "webhooks-delete" => webhooks::webhooks_delete_deletes_the_endpoint,
    "webhooks-rotate-secret" => webhooks::webhooks_rotate_secret_returns_a_new_secret,
    "webhooks-deliveries" => webhooks::webhooks_deliveries_shows_the_failed_attempt,
    "webhooks-redeliver" => webhooks::webhooks_redeliver_queues_one_more_attempt,
    "page-billing" => billing::page_billing_shows_the_plan_and_usage,
    "page-billing-action" => billing::page_billing_action_links_on_to_stripe_checkout,
    "billing-get" => billing::billing_get_shows_the_free_plan_and_its_limits,
    "billing-checkout" => billing::billing_checkout_returns_the_checkout_url,
    "billing-portal" => billing::billing_portal_returns_the_portal_url_for_the_customer,
    "stripe-webhook" => billing::stripe_webhook_verifies_the_raw_body_and_applies_the_subscription,
    "contacts-email" => gmail::contacts_email_sends_from_danas_gmail_and_logs_it,
    "page-contact-email" => gmail::page_contact_email_sends_and_returns_to_the_record,
    "gmail-replies-tick" => gmail::gmail_replies_tick_puts_marias_reply_on_her_timeline,
    "google-status" => google::google_status_shows_the_connected_account_and_features,
    "google-connect" => google::google_connect_answers_googles_consent_url_for_the_calendar,
    "google-callback" => google::google_callback_stores_the_tokens_sealed_by_kms,
    "google-disconnect" => google::google_disconnect_revokes_and_deletes_the_tokens,
    "google-calendar-sync" => google::google_calendar_sync_queues_a_sync_job_per_connected_member,
    "google-contacts-import" => google::google_contacts_import_reads_danas_google_contacts_in_the_job,
    "page-integrations" => google::page_integrations_explains_each_features_access,
    "page-integrations-action" => google::page_integrations_action_links_on_to_googles_consent_page,
    "page-sign-in-google" => google::page_sign_in_google_redirects_to_googles_sign_in_page,
    "page-sign-in-google-callback" => google::page_sign_in_google_callback_signs_dana_in_by_her_verified_address,
    "page-sign-in-google-finish" => google::page_sign_in_google_finish_creates_the_account_and_organization,
    "contacts-create" => crm::contacts_create_makes_the_contact_with_an_e164_phone,
    "contacts-list" => crm::contacts_list_filters_by_the_tag,
    "contacts-get" => crm::contacts_get_shows_the_contact,
    "contacts-update" => crm::contacts_update_changes_the_company_and_adds_the_tag,
    "contacts-delete" => crm::contacts_delete_deletes_the_contact,
    "forms-list" => forms::forms_list_lists_the_form_with_its_count,
    "forms-create" => forms::forms_create_creates_version_one_with_its_embed_snippets,
    "forms-get" => forms::forms_get_shows_the_form,
    "forms-update" => forms::forms_update_makes_version_two,
    "forms-delete" => forms::forms_delete_deletes_the_form,
    "form-submissions-list" => forms::form_submissions_list_lists_the_submission,
    "form-submissions-get" => forms::form_submissions_get_shows_the_submission_with_its_fields,
    "form-submissions-delete" => forms::form_submissions_delete_erases_the_submission,
    "form-submissions-export" => forms::form_submissions_export_answers_csv,
    "public-form-submit" => forms::public_form_submit_captures_the_contact_and_queues_the_alert,
    "page-form" => forms::page_form_serves_the_hosted_form_frameable,
    "page-forms" => forms::page_forms_lists_the_form_with_its_count,
    "page-forms-create" => forms::page_forms_create_makes_the_form_and_opens_its_builder,
    "page-form-builder" => forms::page_form_builder_shows_fields_preview_and_snippets,
    "page-form-save" => forms::page_form_save_adds_the_phone_field_as_version_two,
    "page-form-submissions" => forms::page_form_submissions_links_the_contact,
    "contacts-timeline" => crm::contacts_timeline_lists_the_contacts_entries,
    "contacts-merge" => crm::contacts_merge_merges_the_duplicate_into_the_contact,
    "contacts-tags-bulk" => crm::contacts_tags_bulk_tags_the_contact,
    "contacts-export" => crm::contacts_export_streams_the_tagged_contacts_as_json_lines,
    "contacts-exports-create" => crm::contacts_exports_create_queues_the_export_job,
    "exports-get" => crm::exports_get_shows_the_finished_export,
    "exports-download" => crm::exports_download_redirects_to_the_file_in_the_bucket,
    "fields-create" => crm::fields_create_defines_the_select_field,
    "fields-list" => crm::fields_list_shows_the_field,
    "fields-update" => crm::fields_update_relabels_the_field,
    "fields-delete" => crm::fields_delete_deletes_the_field,
    "notes-list" => crm::notes_list_shows_the_contacts_note,
    "notes-create" => crm::notes_create_adds_the_note,
    "notes-update" => crm::notes_update_rewrites_the_note,
    "notes-delete" => crm::notes_delete_deletes_the_note,
    "tags-list" => crm::tags_list_counts_the_tag,
    "tags-rename" => crm::tags_rename_renames_the_tag_on_its_contacts,
    "tags-delete" => crm::tags_delete_removes_the_tag_from_its_contacts,
    "pipelines-create" => crm::pipelines_create_makes_the_pipeline_with_its_stages,
    "pipelines-list" => crm::pipelines_list_shows_the_pipeline,
    "pipelines-get" => crm::pipelines_get_shows_the_pipeline_with_its_stages,
    "pipelines-update" => crm::pipelines_update_renames_the_pipeline,
    "pipelines-delete" => crm::pipelines_delete_deletes_the_pipeline,
    "pipelines-board" => crm::pipelines_board_shows_the_deal_in_its_stage,
    "deals-create" => crm::deals_create_opens_the_deal_for_the_contact,
    "deals-list" => crm::deals_list_shows_the_deal,
    "deals-get" => crm::deals_get_shows_the_deal,
    "deals-update" => crm::deals_update_wins_the_deal_in_the_last_stage,
    "deals-delete" => crm::deals_delete_deletes_the_deal,
    "imports-create" => crm::imports_create_accepts_the_csv_and_queues_the_import,
    "imports-append-part" => crm::imports_append_part_adds_the_last_part_and_queues_the_import,
    "imports-get" => crm::imports_get_shows_the_finished_import,
    "imports-errors" => crm::imports_errors_lists_the_rejected_row_as_csv,
    "imports-errors-export" => crm::imports_errors_export_queues_the_error_report,
    "schedules-create" => scheduling::schedules_create_makes_the_surgery_hours,
    "schedules-list" => scheduling::schedules_list_shows_the_schedule,
    "schedules-get" => scheduling::schedules_get_shows_the_schedule,
    "schedules-update" => scheduling::schedules_update_renames_the_schedule,
    "schedules-delete" => scheduling::schedules_delete_deletes_the_unused_schedule,
    "event-types-create" => scheduling::event_types_create_offers_the_check_up_on_the_schedule,
    "event-types-list" => scheduling::event_types_list_shows_the_event_type,
    "event-types-get" => scheduling::event_types_get_shows_the_event_type,
    "event-types-update" => scheduling::event_types_update_deactivates_the_event_type,
    "event-types-delete" => scheduling::event_types_delete_deletes_the_event_type,
    "public-booking-event" => scheduling::public_booking_event_shows_the_check_up,
    "public-booking-slots" => scheduling::public_booking_slots_offers_the_weeks_free_times,
    "public-booking-create" => scheduling::public_booking_create_books_and_queues_the_confirmation_emails_and_sms,
    "public-booking-show" => scheduling::public_booking_show_shows_the_booking_to_its_token,
    "public-booking-cancel" => scheduling::public_booking_cancel_cancels_with_the_token,
    "public-booking-reschedule" => scheduling::public_booking_reschedule_moves_the_booking_with_the_token,
    "page-book" => scheduling::page_book_serves_the_booking_page_of_the_event_type,
    "page-booking" => scheduling::page_booking_serves_the_manage_page_with_the_bookings_event_type,
    "appointments-list" => scheduling::appointments_list_shows_the_booking,
    "appointments-get" => scheduling::appointments_get_shows_the_booking,
    "appointments-cancel" => scheduling::appointments_cancel_cancels_with_the_reason,
    "appointments-reschedule" => scheduling::appointments_reschedule_moves_the_booking,
    "appointments-confirm" => scheduling::appointments_confirm_confirms_the_booking_waiting_for_it,
    "appointments-decline" => scheduling::appointments_decline_declines_the_booking_waiting_for_confirmation,
    "appointments-no-show" => scheduling::appointments_no_show_marks_the_started_booking,
    "jobs-worker" => events::jobs_worker_sends_the_queued_verification_email_once,
    "bulk-worker" => crm::bulk_worker_writes_the_queued_export_once,
    "reminders-send" => events::reminders_send_sends_the_hour_before_reminder_by_email_and_sms_once,
    "reminders-tick" => events::reminders_tick_fans_out_the_reminders_due_at_its_time,
    "web-assets" => web::web_assets_serves_the_stylesheet_immutable,
    "api-docs" => web::api_docs_draws_the_served_document_with_the_vendored_viewer,
    "page-root" => web::page_root_sends_the_signed_in_member_to_the_app,
    "page-sign-in" => web::page_sign_in_shows_the_form,
    "page-sign-in-submit" => web::page_sign_in_submit_signs_in_and_opens_the_app,
    "page-sign-up" => web::page_sign_up_shows_the_form,
    "page-sign-up-submit" => web::page_sign_up_submit_creates_the_account_and_queues_its_verification,
    "page-sign-out" => web::page_sign_out_ends_the_session,
    "page-home" => web::page_home_shows_the_organization_and_recent_contacts,
    "page-contacts" => web::page_contacts_lists_the_contact,
    "page-contacts-tag" => web::page_contacts_tag_tags_the_ticked_contact,
    "page-contact-new" => web::page_contact_new_shows_the_form,
    "page-contact-create" => web::page_contact_create_creates_the_contact_and_opens_it,
    "page-contact" => web::page_contact_shows_the_record,
    "page-note-create" => web::page_note_create_adds_the_note,
    "page-settings" => web::page_settings_shows_the_organizations_profile,
    "page-settings-save" => web::page_settings_save_renames_the_organization,
    "page-org-deletion" => web::page_org_deletion_explains_the_timeline_and_asks_for_the_name,
    "page-org-deletion-action" => web::page_org_deletion_action_deletes_the_organization,
    "page-verify-email-submit" => account::page_verify_email_submit_verifies_the_address,
    "page-forgot-password" => web::page_forgot_password_asks_for_the_email,
    "page-contact-edit" => web::page_contact_edit_shows_the_filled_form,
    "page-contact-update" => web::page_contact_update_saves_the_contact,
    "page-contact-delete" => web::page_contact_delete_deletes_the_contact,
    "page-note-update" => web::page_note_update_rewrites_the_note,
    "page-note-delete" => web::page_note_delete_deletes_the_note,
    "page-contacts-export" => web::page_contacts_export_exports_the_filtered_contacts,
    "page-export" => web::page_export_shows_the_finished_exports_download,
    "page-import-new" => web::page_import_new_shows_the_upload_form,
    "page-import-upload" => web::page_import_upload_stores_the_file_without_starting_it,
    "page-profile-photo" => web::page_profile_photo_removes_the_photo,
    "page-import-map" => web::page_import_map_previews_the_first_rows,
    "page-import-start" => web::page_import_start_queues_the_import_and_it_runs,
    "page-import" => web::page_import_shows_the_finished_imports_counts,
    "page-pipelines" => web::page_pipelines_lists_the_pipelines,
    "page-pipeline-create" => web::page_pipeline_create_makes_the_pipeline_with_its_stages,
    "page-board" => web::page_board_shows_the_deal_in_its_stage_with_totals,
    "page-deal-move" => web::page_deal_move_moves_the_deal,
    "page-deal-create" => web::page_deal_create_opens_the_deal_for_the_contact,
    "page-pipeline-edit" => web::page_pipeline_edit_shows_the_stages_to_edit,
    "page-pipeline-update" => web::page_pipeline_update_renames_the_pipeline,
    "page-schedule-edit" => scheduling::page_schedule_edit_shows_the_hours_to_edit,
    "page-schedule-update" => scheduling::page_schedule_update_saves_the_new_hours,
    "page-event-type-edit" => scheduling::page_event_type_edit_shows_every_setting_and_the_link,
    "page-event-type-update" => scheduling::page_event_type_update_saves_every_setting,
    "page-schedule-delete" => scheduling::page_schedule_delete_deletes_the_unused_schedule,
    "page-event-type-delete" => scheduling::page_event_type_delete_deletes_the_event_type,
    "page-contact-book-form" => scheduling::page_contact_book_form_lists_the_free_times_for_the_contact,
    "page-contact-book" => scheduling::page_contact_book_books_the_time_for_the_contact,
    "page-calendar" => scheduling::page_calendar_shows_the_weeks_booking,
    "page-appointments" => scheduling::page_appointments_lists_the_confirmed_booking,
    "page-appointment-action" => scheduling::page_appointment_action_cancels_with_the_reason,
    "page-team" => account::page_team_lists_members_and_invitations,
    "page-invite" => account::page_invite_invites_and_emails_the_link,
    "page-invitation-revoke" => account::page_invitation_revoke_withdraws_the_invitation,
    "page-member" => account::page_member_makes_the_member_an_admin,
    "page-audit" => account::page_audit_shows_the_filtered_entries,
    "page-profile" => account::page_profile_shows_the_name_and_email,
    "page-profile-save" => account::page_profile_save_renames_the_user,
    "page-sign-out-everywhere" => account::page_sign_out_everywhere_ends_every_session,
    "contacts-views-list" => crm::contacts_views_list_shows_the_callers_view,
    "contacts-views-create" => crm::contacts_views_create_saves_the_named_filters,
    "contacts-views-delete" => crm::contacts_views_delete_deletes_the_view,
    "page-view-create" => web::page_view_create_saves_the_tables_filters,
    "page-view-delete" => web::page_view_delete_deletes_the_view,
    "page-contact-field" => web::page_contact_field_gives_htmx_the_fields_form,
    "page-contact-field-save" => web::page_contact_field_save_saves_the_one_field,
    "page-contact-merge-form" => web::page_contact_merge_form_shows_both_contacts_side_by_side,
    "page-contact-merge" => web::page_contact_merge_merges_with_the_chosen_values,
    "page-contacts-columns" => web::page_contacts_columns_remembers_the_members_columns,
    "page-scheduling" => scheduling::page_scheduling_shows_the_event_types_link_and_the_hours,
    "page-schedule-create" => scheduling::page_schedule_create_makes_the_surgery_hours,
    "page-event-type-create" => scheduling::page_event_type_create_offers_the_check_up,
    "page-forgot-password-submit" => account::page_forgot_password_submit_queues_the_reset_link,
    "page-reset-password-submit" => account::page_reset_password_submit_sets_the_new_password,
    "page-accept-invitation-submit" => account::page_accept_invitation_submit_joins_signed_in,
    "twilio-sms" => sms::twilio_sms_records_the_stop_and_confirms_it_in_twiml,
    "twilio-status" => sms::twilio_status_records_the_undelivered_reminder,
    "page-contact-sms" => sms::page_contact_sms_shows_the_consent_and_the_numbers_state,
    "page-sms-settings" => sms::page_sms_settings_shows_the_sender_and_the_help_answer,
    "page-sms-settings-save" => sms::page_sms_settings_save_saves_the_quiet_hours_and_help_text,
    "page-webhooks" => webhooks::page_webhooks_lists_the_endpoint,
    "page-webhooks-create" => webhooks::page_webhooks_create_adds_the_endpoint_and_shows_its_secret_once,
    "page-webhook" => webhooks::page_webhook_shows_the_endpoint_and_its_deliveries,
    "page-webhook-action" => webhooks::page_webhook_action_saves_the_endpoint,
}

/// What every answer through API Gateway carries: no type sniffing, no full
/// URL sent to other sites, HSTS (API Gateway serves HTTPS only) and a
/// content policy on every page.
fn assert_security_headers(name: &str, headers: &http::HeaderMap) {
    let header = |key: &str| headers.get(key).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(header("x-content-type-options"), "nosniff", "{name}");
    assert!(
        [
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin"
        ]
        .contains(&header("referrer-policy")),
        "{name}: Referrer-Policy {:?}",
        header("referrer-policy")
    );
    assert!(
        header("strict-transport-security").starts_with("max-age=31536000"),
        "{name}: HSTS {:?}",
        header("strict-transport-security")
    );
    if header("content-type").starts_with("text/html") {
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors"),
            "{name}: CSP {csp:?}"
        );
    }
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn sample(file: &str) -> String {
    let path = events_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read sample event {}: {e}", path.display()))
}

/// The JSON body of an HTTP sample, e.g. to make what another sample refers to.
fn sample_body(entry: &str) -> Value {
    let event: Value = serde_json::from_str(&sample(&format!("{entry}.json"))).expect("sample is JSON");
    let body = event["body"]
        .as_str()
        .unwrap_or_else(|| panic!("{entry}: sample has no body"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{entry}: sample body is not JSON: {e}"))
}

fn lambda_entries() -> impl Iterator<Item = &'static Entry> {
    catalogue::entries()
        .iter()
        .filter(|entry| entry.runtime == Runtime::Both)
}

fn entry(name: &str) -> &'static Entry {
    lambda_entries()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} is no Lambda"))
}

#[test]
fn every_lambda_has_a_sample_test() {
    let mut missing: Vec<&str> = lambda_entries()
        .map(|e| e.name)
        .filter(|name| !SAMPLE_TESTS.contains(name))
        .collect();
    missing.sort_unstable();
    assert!(missing.is_empty(), "Lambdas without a sample test: {missing:?}");
    let mut listed = SAMPLE_TESTS.to_vec();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), SAMPLE_TESTS.len(), "a Lambda listed twice");
}

#[test]
fn every_sample_event_belongs_to_a_lambda() {
    let generic = ["sqs-batch.json", "scheduled-event.json"];
    let dir = events_dir();
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let name = file
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_entry = name
            .strip_suffix(".json")
            .is_some_and(|stem| lambda_entries().any(|e| e.name == stem));
        assert!(
            is_entry || generic.contains(&name.as_str()),
            "events/{name} is no Lambda's sample"
        );
    }
}

// ------------------------------------------------------------------ the world

/// A fresh cold start (table, queues, key, bucket on the emulator) on a
/// clock at [`NOW`], the whole API over it for making what samples refer to,
/// and Dana's session once she has signed up.
struct World {
    state: AppState,
    clock: TestClock,
    app: Router,
    dana: Option<Browser>,
    org_id: String,
}

/// A response body as the browser reads it: decompressed by its
/// `Content-Encoding` (brotli or gzip, what the shared router sends).
fn decoded(name: &str, headers: &http::HeaderMap, bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None => out.extend_from_slice(bytes),
        Some("br") => {
            brotli_decompressor::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .unwrap_or_else(|e| panic!("{name}: not brotli: {e}"));
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .unwrap_or_else(|e| panic!("{name}: not gzip: {e}"));
        }
        Some(other) => panic!("{name}: an encoding the browser did not ask for: {other}"),
    }
    out
}

/// One answer of an HTTP Lambda to its sample.
struct HttpReply {
    status: StatusCode,
    headers: http::HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    body: Value,
    /// The body as text.
    text: String,
    bytes: Vec<u8>,
}

impl HttpReply {
    #[track_caller]
    fn expect(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

impl World {
    /// No account yet.
    async fn empty() -> Self {
        let clock = TestClock::at(NOW.parse().expect("timestamp"));
        let state = konnecs_tests::aws::app_state_with_clock(Arc::new(clock.clone())).await;
        Self {
            app: konnecs::inbound::http::router(state.clone(), catalogue::entries()),
            state,
            clock,
            dana: None,
            org_id: String::new(),
        }
    }

    /// Dana has signed up Whitfield Dental and is signed in; her sign-up's
    /// email is still queued.
    async fn with_dana() -> Self {
        let mut world = Self::empty().await;
        let signup = json!({"name": "Dana Whitfield", "email": DANA_EMAIL, "password": DANA_PASSWORD, "business_name": "Whitfield Dental"});
        let reply = Browser::anonymous()
            .send(&world.app, "POST", "/auth/signup", Some(&signup))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "sign-up: {}", reply.body);
        world.org_id = reply.body["org_id"].as_str().expect("org id").to_string();
        world.dana = Some(Browser::from_reply(&reply));
        world
    }

    fn dana(&self) -> &Browser {
        self.dana.as_ref().expect("Dana signed up")
    }

    /// Dana signs in again (after the clock moved past her idle timeout).
    async fn sign_in_again(&mut self) {
        let body = json!({"email": DANA_EMAIL, "password": DANA_PASSWORD});
        let reply = Browser::anonymous()
            .send(&self.app, "POST", "/auth/login", Some(&body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.body);
        self.dana = Some(Browser::from_reply(&reply));
    }

    fn set_clock(&self, at: &str) {
        self.clock.set(at.parse::<Timestamp>().expect("timestamp"));
    }

    /// An API call as Dana; panics unless it succeeds.
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self.dana().send(&self.app, method, path, body.as_ref()).await;
        assert!(
            reply.status.is_success(),
            "{method} {path}: {} {}",
            reply.status,
            reply.body
        );
        reply.body
    }

    /// An API call as Dana with a raw body; panics unless it succeeds.
    async fn api_raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let mut request = self.dana().request(method, path, None);
        request
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type.parse().expect("header"));
        *request.body_mut() = axum::body::Body::from(body);
        let reply = konnecs_tests::http::send(&self.app, request).await;
        assert!(
            reply.status.is_success(),
            "{method} {path}: {} {}",
            reply.status,
            reply.body
        );
        reply
    }

    /// The sample of `entry` with Dana's session and the data it refers to
    /// in place of its placeholders and ids (each `(sample's, seeded)` pair
    /// in turn; the sample must contain every one).
    fn event_text(&self, entry: &str, seeded: &[(&str, &str)]) -> String {
        let mut text = sample(&format!("{entry}.json"));
        if let Some(dana) = &self.dana {
            text = text
                .replace("SESSION_TOKEN", dana.session.as_deref().unwrap_or_default())
                .replace("CSRF_TOKEN", dana.csrf.as_deref().unwrap_or_default());
        }
        for (in_sample, real) in seeded {
            assert!(text.contains(in_sample), "{entry}: the sample has no {in_sample}");
            text = text.replace(in_sample, real);
        }
        // The body may have changed length with the ids in it.
        let mut event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{entry}: not JSON: {e}"));
        if let (Some(body), false) = (event["body"].as_str(), event["isBase64Encoded"] == true) {
            let length = body.len().to_string();
            if let Some(headers) = event["headers"].as_object_mut()
                && headers.contains_key("content-length")
            {
                headers.insert("content-length".into(), json!(length));
            }
        }
        event.to_string()
    }

    /// An API Gateway HTTP API (v2.0) event through the entry's own router,
    /// as `lambda_http::run` does it; checks the request id comes back.
    async fn http(&self, name: &str, seeded: &[(&str, &str)]) -> HttpReply {
        let text = self.event_text(name, seeded);
        self.http_text(name, &text).await
    }

    /// An event of `name`'s Lambda given as its full text.
    async fn http_text(&self, name: &str, text: &str) -> HttpReply {
        let entry = entry(name);
        let Trigger::Http { method, path, .. } = entry.trigger else {
            panic!("{name} is not an HTTP Lambda");
        };
        let event: Value = serde_json::from_str(text).expect("JSON");
        // The sample must be the request API Gateway sends for this route
        // (or for its OPTIONS, when the template routes that here too).
        let preflight = entry.answers_preflight() && event["routeKey"] == format!("OPTIONS {path}");
        if !preflight {
            assert_eq!(
                event["routeKey"],
                format!("{} {path}", method.as_str()),
                "{name}: routeKey"
            );
        }
        assert_eq!(event["version"], "2.0", "{name}: HTTP API payload v2.0");
        let request =
            lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: not an API Gateway event: {e}"));
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        let response = konnecs::inbound::http::router(self.state.clone(), [entry])
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{name}: unreadable body: {e}"))
            .to_bytes();
        // The samples accept `gzip, deflate, br`, as browsers do: the body
        // comes compressed (lambda_http sends it base64) and is read here
        // as the browser would.
        let bytes = decoded(name, &parts.headers, &bytes);
        let json = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json") && !v.contains("jsonl") && !v.contains("ndjson"));
        let body = if json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        } else {
            Value::Null
        };
        // API Gateway's request id becomes ours, so logs and problems match its access log.
        assert_eq!(
            parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            event["requestContext"]["requestId"].as_str(),
            "{name}: request id"
        );
        assert_security_headers(name, &parts.headers);
        HttpReply {
            status: parts.status,
            headers: parts.headers,
            body,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    /// The SQS sample of `name`, with the seeded ids in place, through its consumer.
    async fn sqs(&self, name: &str, seeded: &[(&str, &str)]) -> SqsBatchResponse {
        let Trigger::Queue { consumer, .. } = entry(name).trigger else {
            panic!("{name} is not a queue Lambda");
        };
        let batch: SqsEvent = serde_json::from_str(&self.event_text(name, seeded))
            .unwrap_or_else(|e| panic!("{name}: not an SQS batch: {e}"));
        handle_sqs(self.state.clone(), consumer, batch).await
    }

    /// Every job on the job queues now (short, then bulk), taken off them
    /// (acknowledged).
    async fn take_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for queue in [&self.state.jobs, &self.state.bulk] {
            for round in 0.. {
                assert!(round < 100, "a job queue did not run dry in 100 receives");
                let received = queue.receive(10, Duration::from_secs(600)).await.expect("receive");
                if received.is_empty() {
                    break;
                }
                for message in received {
                    jobs.push(serde_json::from_str(&message.body).expect("a job"));
                    queue.ack(&message.receipt).await.expect("ack");
                }
            }
        }
        jobs
    }

    /// Runs every queued job through its queue's consumer, as the
    /// `jobs-worker` and `bulk-worker` Lambdas do, until both queues are dry.
    async fn run_jobs(&self) {
        konnecs_tests::local::drain_jobs(&self.state).await;
    }

    /// The token of the link to `path` in the queued email to `to` (the
    /// queue's other jobs are taken off with it).
    async fn emailed_token(&self, to: &str, path: &str) -> String {
        let needle = format!("{path}?token=");
        for job in self.take_jobs().await {
            // A reset request is a job that stores the token and sends the
            // link: run it, and its token is the link's.
            if let Job::PasswordReset { email, token, .. } = &job
                && email == to
                && path == "/reset-password"
            {
                let delivery = konnecs::services::jobs::Delivery::starting_now(false);
                konnecs::inbound::events::jobs::run(&self.state, job.clone(), &delivery)
                    .await
                    .expect("the reset job runs");
                return token.clone();
            }
            if let Job::SendEmail { email, .. } = job
                && email.to == to
                && let Some(start) = email.text.find(&needle)
            {
                return email.text[start + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
            }
        }
        panic!("no queued email to {to} with a {path} link");
    }

    /// Every message in the local outbox (email and SMS), newest first.
    async fn outbox(&self) -> Vec<Value> {
        let (items, _) = konnecs::adapters::outbox::list(self.state.table.as_ref(), 200, None)
            .await
            .expect("outbox");
        items.into_iter().map(Value::Object).collect()
    }
}

/// The queued emails among `jobs`: (to, kind).
fn emails(jobs: &[Job]) -> Vec<(String, String)> {
    jobs.iter()
        .filter_map(|job| match job {
            Job::SendEmail { email, .. } => Some((email.to.clone(), email.kind.clone())),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------ generic samples

/// Messages the test consumer saw: (id, receive count).
static SEEN: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

/// Fails the reminder message, acknowledges the rest.
fn failing_consumer(_state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    async move {
        if let Ok(mut seen) = SEEN.lock() {
            seen.extend(messages.iter().map(|m| (m.message_id.clone(), m.receive_count)));
        }
        let failed = messages
            .into_iter()
            .filter(|m| m.body.contains("reminder.send"))
            .map(|m| m.message_id)
            .collect();
        BatchOutcome { failed }
    }
    .boxed()
}

#[tokio::test]
async fn public_form_submit_answers_the_cors_preflight_for_the_forms_own_sites_only() {
    forms::public_form_submit_answers_the_cors_preflight_for_the_forms_own_sites_only("public-form-submit").await;
}

#[tokio::test]
async fn a_failed_message_is_reported_alone_for_redelivery() {
    let batch: SqsEvent = serde_json::from_str(&sample("sqs-batch.json")).expect("sqs-batch.json is an SQS batch");
    let response = handle_sqs(World::empty().await.state, failing_consumer, batch).await;

    // The field names Lambda reads for ReportBatchItemFailures.
    let json = serde_json::to_value(&response).expect("serializes");
    assert_eq!(
        json,
        json!({ "batchItemFailures": [{ "itemIdentifier": "c3a8f5d2-91b4-4e07-8f6a-7d0b2e9c4a15" }] })
    );

    let seen = SEEN.lock().expect("not poisoned").clone();
    assert_eq!(
        seen,
        [
            ("0f9d6a3e-3c55-4b9e-9a53-1f0e7d2b8c41".to_owned(), 1),
            ("6b2e41c7-8a0d-4f6e-b3d9-52c8e1a7f093".to_owned(), 1),
            ("c3a8f5d2-91b4-4e07-8f6a-7d0b2e9c4a15".to_owned(), 3),
        ]
    );
}

#[tokio::test]
async fn a_batch_without_failures_reports_none() {
    fn accept_all(_state: AppState, _messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
        async { BatchOutcome::default() }.boxed()
    }
    let batch: SqsEvent = serde_json::from_str(&sample("sqs-batch.json")).expect("sqs-batch.json is an SQS batch");
    let response = handle_sqs(World::empty().await.state, accept_all, batch).await;
    assert_eq!(
        serde_json::to_value(&response).expect("serializes"),
        json!({ "batchItemFailures": [] })
    );
}

/// Where the test tick looks.
const TICK_PARTITION: &str = "SAMPLE#TICK";

/// Counts the items it finds in [`TICK_PARTITION`] of the state it was given.
fn counting_tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let page = state
            .table
            .query(&Query::partition(TICK_PARTITION))
            .await
            .map_err(|e| TickError(e.to_string()))?;
        Ok(TickReport {
            processed: page.items.len() as u64,
        })
    }
    .boxed()
}

#[tokio::test]
async fn a_scheduled_event_runs_the_tick_on_the_functions_state_and_reports_what_it_did() {
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&sample("scheduled-event.json")).expect("scheduled-event.json is an EventBridge event");
    assert_eq!(event.detail_type, "Scheduled Event");
    let state = World::empty().await.state;
    for sk in ["a", "b", "c"] {
        let item = json!({"pk": TICK_PARTITION, "sk": sk});
        state
            .table
            .put(item.as_object().expect("object").clone(), None)
            .await
            .expect("put");
    }
    let report = handle_schedule(state, "test-tick", counting_tick, event)
        .await
        .expect("tick runs");
    assert_eq!(report, TickReport { processed: 3 });
}

#[tokio::test]
async fn a_failing_tick_fails_the_invocation() {
    fn broken(_state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
        async { Err(TickError("store unavailable".into())) }.boxed()
    }
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&sample("scheduled-event.json")).expect("scheduled-event.json is an EventBridge event");
    // An error makes Lambda record a failed invocation (and retry), not a silent success.
    assert!(
        handle_schedule(World::empty().await.state, "test-tick", broken, event)
            .await
            .is_err()
    );
}
