//! Driving the router like a browser: JSON requests, the session cookie and
//! the CSRF header.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The value of a cookie the response sets (empty string when it clears it).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|header| {
                let (pair, _) = header.split_once(';').unwrap_or((header, ""));
                let (key, value) = pair.split_once('=')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
    }

    /// Every `Set-Cookie` header as text.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

/// A signed-in browser: the session cookie and the CSRF token.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub session: Option<String>,
    pub csrf: Option<String>,
    pub ip: Option<String>,
}

pub const SESSION_COOKIE: &str = "__Host-konnecs_session";

impl Browser {
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Takes the session from a sign-up or login reply.
    pub fn from_reply(reply: &Reply) -> Self {
        Self {
            session: reply.cookie(SESSION_COOKIE),
            csrf: reply.body["csrf_token"].as_str().map(str::to_string),
            ip: None,
        }
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Request<Body> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("user-agent", "konnecs-tests");
        if let Some(session) = &self.session {
            builder = builder.header("cookie", format!("{SESSION_COOKIE}={session}"));
        }
        if let Some(csrf) = &self.csrf {
            builder = builder.header("x-csrf-token", csrf);
        }
        if let Some(ip) = &self.ip {
            builder = builder.extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                ip.parse().expect("ip"),
                50_000,
            )));
        }
        match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(body).expect("json")))
                .expect("request"),
            None => builder.body(Body::empty()).expect("request"),
        }
    }

    pub async fn send(&self, app: &Router, method: &str, path: &str, body: Option<&Value>) -> Reply {
        send(app, self.request(method, path, body)).await
    }

    /// The same request with an `Idempotency-Key` header.
    pub async fn send_once(&self, app: &Router, path: &str, body: &Value, idempotency_key: &str) -> Reply {
        let mut request = self.request("POST", path, Some(body));
        request.headers_mut().insert(
            "idempotency-key",
            http::HeaderValue::from_str(idempotency_key).expect("header value"),
        );
        send(app, request).await
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = app.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    crate::contract::check(&method, &path, status, &headers, &bytes);
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        bytes,
    }
}
