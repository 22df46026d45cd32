//! The API tests: every HTTP-level test of the product, in one binary that
//! links once. Each module drives the real router and pipeline through the
//! shared harness, `konnecs_tests::app::TestApp` (a fresh store on either
//! backend, sign-up, joining with a role, requests with the session cookie
//! and the CSRF header, queues run dry through the real consumers, a test
//! clock).
//!
//! The staff pages are here too (`web`), driven as a browser without
//! JavaScript drives them: forms posted, redirects followed.
//!
//! Kept apart on purpose: the store conformance suite (`tests/conformance`),
//! the browser tests (Chromium), the tests that start `konnecs-local` as a
//! process, the Lambda event samples, and the tests that install a global
//! log subscriber (`request_logs`, `secrets_in_logs`), which would capture
//! every other test's logs here.

mod auth;
mod billing;
mod billing_limits;
mod contacts;
mod conventions;
mod cursors;
mod deals;
mod forms;
mod gmail;
mod google;
mod google_calendar;
mod google_calendar_events;
mod google_contacts;
mod google_sign_in;
mod imports;
mod notifications;
mod org;
mod org_deletion;
mod photo;
mod rate_limits;
mod reminder_dispatch;
mod response_headers;
mod scheduling;
mod sms;
mod web;
mod webhooks;
