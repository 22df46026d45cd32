//! The request pipeline every route shares: request id, a tracing span, one
//! structured log line per request, problem bodies for every error, and the
//! caching and content-type headers of every response.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, USER_AGENT,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, StatusCode};
use tracing::Instrument;

use super::problem::{PROBLEM_JSON, Problem, problem_response};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, available to handlers as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Where the request came from, as far as the runtime knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A caller-supplied id is kept only when it is short and plain, so it cannot
/// forge log lines; otherwise API Gateway's id or a fresh one is used.
fn request_id_of(request: &Request) -> String {
    let supplied = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if let Some(id) = supplied {
        return id.to_string();
    }
    if let Some(id) = lambda_request_id(request) {
        return id;
    }
    uuid::Uuid::now_v7().to_string()
}

fn lambda_context(request: &Request) -> Option<&lambda_http::request::RequestContext> {
    request.extensions().get::<lambda_http::request::RequestContext>()
}

fn lambda_request_id(request: &Request) -> Option<String> {
    match lambda_context(request)? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The socket peer locally; API Gateway's `sourceIp` in Lambda. Forwarded-for
/// headers are not trusted: anyone can set them.
fn client_ip(request: &Request) -> Option<String> {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return Some(addr.ip().to_string());
    }
    match lambda_context(request)? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub async fn pipeline(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string());
    let method = request.method().clone();
    let https = served_over_https(&request);
    let client = ClientInfo {
        ip: client_ip(&request),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    };
    request.extensions_mut().insert(RequestId(request_id.clone()));
    request.extensions_mut().insert(client.clone());

    // The function is named by its route's own layer (`name_function`);
    // org_id by the session extractor once it knows the caller.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        function = tracing::field::Empty,
        route = route.as_deref().unwrap_or("unmatched"),
        org_id = tracing::field::Empty
    );
    let response = next.run(request).instrument(span.clone()).await;
    let mut response = finish_problem(response, &request_id);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    set_security_headers(&mut response, https);

    let _entered = span.enter();
    tracing::info!(
        target: "konnecs::http",
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        client_ip = client.ip.as_deref().unwrap_or("-"),
        user_agent = client.user_agent.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

/// Names the catalogue function serving the request in its span, so every
/// line it logs says which function it came from (one per Lambda, all of
/// them in the local server).
pub async fn name_function(function: &'static str, request: Request, next: Next) -> Response {
    tracing::Span::current().record("function", function);
    next.run(request).await
}

/// Whether the client reached us over HTTPS: through API Gateway (which
/// serves HTTPS only), or through a TLS-terminating proxy saying so in
/// `X-Forwarded-Proto`. Browsers ignore HSTS received over plain HTTP
/// (RFC 6797 §8.1), so a forged header gains its sender nothing.
fn served_over_https(request: &Request) -> bool {
    lambda_context(request).is_some()
        || request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Every HTML page without a policy of its own (the pages that embed or are
/// embedded set theirs): nothing but its own scripts, styles and images,
/// never framed.
pub const DEFAULT_PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A year, with subdomains: the HSTS lifetime once served over HTTPS.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Browsers must not guess a content type other than the one declared (an
/// upload served as a script), nor send a full URL (which may hold a manage
/// link's token) to another site. Nothing is cached unless its handler says
/// so: most answers carry a session, a token or personal data, and a stored
/// copy would outlive the sign-out on a shared computer or sit in a proxy.
/// The handlers that choose their own caching, referrer or content policy
/// keep theirs (all stricter or as strict).
fn set_security_headers(response: &mut Response, https: bool) {
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(REFERRER_POLICY) {
        headers.insert(
            REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    if is_html && !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_PAGE_CSP));
    }
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
}

/// A body written on purpose (JSON, or an HTML page such as the public
/// pages' own 404), kept as it is; anything else is the framework's.
fn is_json_or_page(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json") || ct.starts_with("text/html"))
}

/// Writes the body of every error response: a problem from our handlers gets
/// the request id; a bare error from the framework (unknown route, wrong
/// method, body too large, panic) becomes the matching problem.
fn finish_problem(mut response: Response, request_id: &str) -> Response {
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if response.status().is_client_error() || response.status().is_server_error() => {
            if is_json_or_page(&response) {
                return response;
            }
            Problem::for_status(response.status())
        }
        None => return response,
    };
    let problem = Problem {
        request_id: Some(request_id.to_string()),
        ..problem
    };
    let status = response.status();
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut out = (status, Body::from(body)).into_response();
    // Keep headers such as Retry-After and Allow.
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    out
}

/// Router fallback: unknown paths.
pub async fn not_found() -> Response {
    problem_response(Problem::for_status(StatusCode::NOT_FOUND))
}

/// Panics become an opaque 500 problem (the panic message is logged, not returned).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<axum::body::Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    problem_response(Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR))
}
