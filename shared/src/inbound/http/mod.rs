//! HTTP inbound: axum handlers, shared by the local server and `lambda_http`.

pub mod api_docs;
pub mod auth;
pub mod billing;
pub mod contacts;
pub mod exports;
pub mod extract;
pub mod forms;
pub mod gmail;
pub mod google;
pub mod health;
pub mod idempotency;
pub mod imports;
pub mod invitations;
pub mod me;
pub mod middleware;
pub mod org;
pub mod org_deletion;
pub mod pages;
pub mod photo;
pub mod pipelines;
pub mod problem;
pub mod public_booking;
pub mod public_forms;
pub mod rate_limit;
pub mod scheduling;
pub mod session;
pub mod twilio;
pub mod web;
pub mod webhooks;

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::MAX_BODY_BYTES;
use crate::inbound::AppState;
use crate::services::rate_limit::Throttle;

/// Mounts one handler under the method its catalogue entry names, so the
/// method is written once, in the catalogue.
pub type RouteFn = fn(MethodFilter) -> MethodRouter<AppState>;

/// Something that may be an HTTP route: a catalogue entry. The catalogue
/// implements it, so this layer mounts routes without importing the list
/// that names them.
pub trait HttpRoute {
    /// The function's name, the path and its method router, if this is an
    /// HTTP route.
    fn http_route(&self) -> Option<(&'static str, &'static str, MethodRouter<AppState>)>;

    /// The request budgets of the route, if the rate-limit layer applies any.
    fn throttle(&self) -> Option<Throttle>;
}

/// A router serving the HTTP entries given (all of them locally, one in a
/// Lambda), with the shared pipeline: request ids, logs, problems, body
/// limit, and each route's rate limits.
pub fn router<'a, R: HttpRoute + 'a>(state: AppState, entries: impl IntoIterator<Item = &'a R>) -> Router {
    let routes =
        mount(entries, Some(&state)).layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::replay));
    with_pipeline(routes).with_state(state)
}

/// The bare routes of the HTTP entries given, without the pipeline or the
/// rate limits (tests mount them next to their own routes).
pub fn routes<'a, R: HttpRoute + 'a>(entries: impl IntoIterator<Item = &'a R>) -> Router<AppState> {
    mount(entries, None)
}

fn mount<'a, R: HttpRoute + 'a>(
    entries: impl IntoIterator<Item = &'a R>,
    limits: Option<&AppState>,
) -> Router<AppState> {
    let mut router = Router::new();
    let refusals = std::sync::Arc::new(rate_limit::Refusals::default());
    for entry in entries {
        let Some((function, path, mut method_router)) = entry.http_route() else {
            continue;
        };
        if let (Some(state), Some(throttle)) = (limits, entry.throttle()) {
            let refusals = refusals.clone();
            method_router = method_router.layer(axum::middleware::from_fn_with_state(
                state.clone(),
                move |state, request, next| rate_limit::limit(state, refusals.clone(), throttle, request, next),
            ));
        }
        let named = axum::middleware::from_fn(move |request, next| middleware::name_function(function, request, next));
        router = router.route(path, method_router.layer(named));
    }
    router
}

/// The shared pipeline around any router: request ids, logs, problem bodies,
/// the body limit, panic containment and response compression. Tests mount
/// their own routes in it.
pub fn with_pipeline(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(middleware::not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::pipeline))
        // Outermost, so every body leaves compressed (problems and error
        // pages too), in Lambda and locally alike: brotli or gzip, only when
        // the request's Accept-Encoding asks for it, `Vary: Accept-Encoding`
        // always. Bodies under 32 bytes, images and event streams pass as
        // they are (tower-http's default predicate).
        .layer(CompressionLayer::new().br(true).gzip(true))
}
