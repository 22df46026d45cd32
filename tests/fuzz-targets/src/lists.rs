//! Query strings, cursors and ids of the signed-in list and read routes:
//! filters as typed, cursors as issued, tampered, truncated, replayed or
//! taken from another organization, and ids of another organization's
//! records. Whatever arrives: no 5xx, a 4xx is problem+json, a cursor or id
//! of another organization is refused, and no answer carries anything of
//! the other organization.

use std::sync::OnceLock;

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_encode};

use crate::app::{Fixture, Reply, authed, fixture};

/// Bytes a URI cannot carry as they are.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// The list routes that page with a cursor, by the ids of the organization asking.
const LISTS: [fn(&str, &str) -> String; 7] = [
    |_, _| "/contacts".into(),
    |contact, _| format!("/contacts/{contact}/timeline"),
    |_, _| "/org/audit".into(),
    |_, _| "/deals".into(),
    |_, form| format!("/forms/{form}/submissions"),
    |_, _| "/org/members".into(),
    |_, _| "/org/invitations".into(),
];

/// The first page's cursor of each list (limit 1): the first organization's
/// own, and the other organization's.
struct Cursors {
    own: Vec<Option<String>>,
    other: Vec<Option<String>>,
}

static CURSORS: OnceLock<Cursors> = OnceLock::new();

fn cursor_of(reply: &Reply) -> Option<String> {
    reply
        .json()
        .as_object()?
        .iter()
        .find(|(k, _)| k.contains("cursor"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string)
}

fn cursors(f: &Fixture) -> &'static Cursors {
    CURSORS.get_or_init(|| {
        let page = |session: &std::sync::Mutex<crate::app::Session>, path: String| {
            let reply = f.send_as(session, |who| authed(who, "GET", &format!("{path}?limit=1")));
            assert!(
                reply.status.is_success(),
                "fixture {path}: {} {}",
                reply.status,
                reply.text()
            );
            cursor_of(&reply)
        };
        Cursors {
            own: LISTS
                .iter()
                .map(|list| page(&f.host, list(&f.contact_id, &f.form_id)))
                .collect(),
            other: LISTS
                .iter()
                .map(|list| page(&f.other.session, list(&f.other.contact_id, &f.other.form_id)))
                .collect(),
        }
    })
}

/// A cursor changed as `how` says: [0] untouched, cut, one byte flipped,
/// or extended.
fn tamper(cursor: &str, how: &[u8]) -> String {
    let mut bytes = cursor.as_bytes().to_vec();
    match how.first().map(|b| b % 4) {
        Some(1) => bytes.truncate(usize::from(how.get(1).copied().unwrap_or(0)) % (bytes.len() + 1)),
        Some(2) if !bytes.is_empty() => {
            let at = usize::from(how.get(1).copied().unwrap_or(0)) % bytes.len();
            bytes[at] ^= how.get(2).copied().unwrap_or(1).max(1);
        }
        Some(3) => bytes.extend_from_slice(how.get(1..).unwrap_or_default()),
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn get(f: &Fixture, uri: &str) -> Reply {
    f.send_as(&f.host, |who| authed(who, "GET", uri))
}

/// Nothing of the other organization in an answer to the first (unless
/// the request itself carried it, and an error quotes it back).
fn assert_no_foreign_data(f: &Fixture, reply: &Reply, input: &[u8], what: &str) {
    let text = reply.text();
    let input = String::from_utf8_lossy(input);
    for marker in &f.other.markers {
        if !input.contains(marker.as_str()) {
            assert!(
                !text.contains(marker.as_str()),
                "{what} shows {marker:?} of another organization: {text}"
            );
        }
    }
}

/// Input: a byte choosing the route, a byte choosing how, then the rest:
/// a query string as typed; a cursor of the other organization (tampered as
/// the rest says); an own cursor tampered; an own cursor replayed with the
/// rest as extra parameters; or a contact id (typed, or the other
/// organization's).
pub fn list_queries(data: &[u8]) {
    let [route, mode, rest @ ..] = data else {
        return;
    };
    let f = fixture();
    let index = usize::from(*route) % LISTS.len();
    let path = LISTS[index](&f.contact_id, &f.form_id);
    let what = format!("GET {path} (mode {})", mode % 6);
    let query = percent_encode(rest, QUERY).to_string();
    match mode % 6 {
        0 => {
            let reply = get(f, &format!("{path}?{query}"));
            reply.assert_client_error_or_success(&what);
            assert_no_foreign_data(f, &reply, rest, &what);
        }
        1 => {
            let Some(foreign) = &cursors(f).other[index] else {
                return;
            };
            let cursor = tamper(foreign, rest);
            let uri = format!("{path}?cursor={}", percent_encode(cursor.as_bytes(), NON_ALPHANUMERIC));
            let reply = get(f, &uri);
            reply.assert_client_error_or_success(&what);
            if !cursor.is_empty() {
                assert!(
                    reply.status.is_client_error(),
                    "{what}: another organization's cursor {cursor:?} was taken: {} {}",
                    reply.status,
                    reply.text()
                );
            }
            assert_no_foreign_data(f, &reply, rest, &what);
        }
        2 | 3 => {
            let Some(own) = &cursors(f).own[index] else {
                return;
            };
            let (cursor, extra) = if mode % 6 == 2 {
                (tamper(own, rest), String::new())
            } else {
                (own.clone(), query)
            };
            let uri = format!(
                "{path}?cursor={}&{extra}",
                percent_encode(cursor.as_bytes(), NON_ALPHANUMERIC)
            );
            let first = get(f, &uri);
            first.assert_client_error_or_success(&what);
            assert_no_foreign_data(f, &first, rest, &what);
            // The same cursor again: the same answer, not an error the
            // second time (cursors are positions, not one-time tickets).
            let again = get(f, &uri);
            assert_eq!(
                first.status, again.status,
                "{what}: a replayed cursor answers differently"
            );
        }
        4 => {
            let id = percent_encode(rest, NON_ALPHANUMERIC).to_string();
            for uri in [format!("/contacts/{id}"), format!("/contacts/{id}/timeline")] {
                let reply = get(f, &uri);
                reply.assert_client_error_or_success(&uri);
                assert_no_foreign_data(f, &reply, rest, &uri);
            }
        }
        _ => {
            let id = tamper(&f.other.contact_id, rest);
            let id = percent_encode(id.as_bytes(), NON_ALPHANUMERIC).to_string();
            for uri in [
                format!("/contacts/{id}"),
                format!("/contacts/{id}/timeline"),
                format!("/forms/{}/submissions", f.other.form_id),
            ] {
                let reply = get(f, &uri);
                reply.assert_client_error_or_success(&uri);
                assert!(
                    reply.status.is_client_error(),
                    "{uri}: another organization's record answered {}",
                    reply.status
                );
                assert_no_foreign_data(f, &reply, rest, &uri);
            }
        }
    }
}
