//! The public booking and form-submission bodies, through the router exactly
//! as a visitor's browser (or a script pretending to be one) sends them.

use axum::body::Body;
use http::Request;

use crate::app::fixture;

fn post(uri: &str, content_type: &str, body: &[u8]) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request")
}

/// Input: the JSON body of `POST /public/booking/{org}/{event}/bookings`.
pub fn booking(data: &[u8]) {
    let f = fixture();
    let uri = format!("/public/booking/{}/{}/bookings", f.org_slug, f.event_slug);
    let reply = f.request(post(&uri, "application/json", data));
    reply.assert_client_error_or_success("public booking");
    if reply.status.is_success() {
        let booked = reply.json();
        assert!(
            booked["booking"]["uid"].is_string(),
            "a booking answers its uid: {booked}"
        );
    }
}

/// Input: one byte choosing JSON or a form post, then the body of
/// `POST /public/forms/{id}/submissions`.
pub fn form_submission(data: &[u8]) {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let uri = format!("/public/forms/{}/submissions", f.form_public_id);
    if kind % 2 == 0 {
        let reply = f.request(post(&uri, "application/json", body));
        reply.assert_client_error_or_success("form submission (json)");
    } else {
        // The no-JS path answers HTML pages and redirects; only a 5xx is wrong.
        let reply = f.request(post(&uri, "application/x-www-form-urlencoded", body));
        assert!(
            reply.status.as_u16() < 500,
            "form submission (form post): {} {}",
            reply.status,
            reply.text()
        );
    }
}
