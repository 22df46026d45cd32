"""Schemathesis hooks for the Konnecs harness (tests/schemathesis/run.sh).

Loaded through SCHEMATHESIS_HOOKS=hooks with this directory on PYTHONPATH.
They sign the run in, spread it over loopback source addresses, and add the
problem+json check the generic checks do not make.
"""

import itertools
import json
import os
import secrets
import threading

import requests
import schemathesis
import urllib3.connection

BASE_URL = os.environ["KONNECS_ST_BASE_URL"].rstrip("/")

# Operations that end the session they are called with. Signed in, each would
# sign the whole run out; the re-login that follows is throttled per account,
# so the run would spend its budget on 401s. They run without a session.
SESSION_ENDING = {"auth-logout", "auth-logout-all", "page-sign-out", "page-sign-out-everywhere"}

# --- Loopback source addresses -------------------------------------------
# The public routes have per-IP budgets sized for one person (a handful of
# sign-ups or password resets a minute). A fuzz run from one address would
# see little but 429 on them after the first seconds. Linux routes all of
# 127.0.0.0/8 to the loopback interface, so each new connection to the
# server leaves from the next 127.0.x.y: every per-IP bucket stays a
# person's, the per-target budgets still apply, and the server's limits are
# the production ones. `Connection: close` on each case makes each request
# its own connection.
_addresses = itertools.cycle(f"127.0.{a}.{b}" for a in range(1, 255) for b in range(1, 255))
_addresses_lock = threading.Lock()
_original_new_conn = urllib3.connection.HTTPConnection._new_conn


def _next_address():
    with _addresses_lock:
        return next(_addresses)


def _connect_from_next_loopback_address(self):
    # urllib3 keeps its connection objects in a pool and opens each again
    # after a close, so the address is chosen at every connect.
    if self.host in ("127.0.0.1", "localhost"):
        self.source_address = (_next_address(), 0)
    return _original_new_conn(self)


urllib3.connection.HTTPConnection._new_conn = _connect_from_next_loopback_address


# --- Signed in ------------------------------------------------------------
class _Account:
    """The run's one account: signed up once, signed in again only when its
    session has ended."""

    def __init__(self):
        self.lock = threading.Lock()
        self.email = f"fuzz-{secrets.token_hex(6)}@example.com"
        self.password = secrets.token_urlsafe(18)
        self.signed_up = False
        self.cookies = None
        self.csrf = None

    def _store(self, response):
        response.raise_for_status()
        self.cookies = dict(response.cookies)
        self.csrf = response.json()["csrf_token"]
        if not self.cookies or not self.csrf:
            raise RuntimeError(f"no session in the answer of {response.request.path_url}: {response.text}")

    def _still_valid(self):
        if self.cookies is None:
            return False
        answer = requests.get(f"{BASE_URL}/auth/csrf", cookies=self.cookies, timeout=30)
        if answer.status_code != 200:
            return False
        self.csrf = answer.json()["csrf_token"]
        return True

    def session(self):
        with self.lock:
            if not self._still_valid():
                if self.signed_up:
                    path, body = "/auth/login", {"email": self.email, "password": self.password}
                else:
                    path = "/auth/signup"
                    body = {
                        "name": "Fuzz Owner",
                        "email": self.email,
                        "password": self.password,
                        "business_name": "Fuzz Ltd",
                    }
                self._store(requests.post(f"{BASE_URL}{path}", json=body, timeout=30))
                self.signed_up = True
            return dict(self.cookies), self.csrf


ACCOUNT = _Account()


@schemathesis.auth(retry_on=[401]).skip_for(operation_id=list(SESSION_ENDING))
class SessionAndCsrf:
    """The session cookie and the CSRF header, on every case: a 401 makes
    schemathesis ask again, and the account signs in again only if its
    session has really ended."""

    def get(self, case, ctx):
        return ACCOUNT.session()

    def set(self, case, data, ctx):
        cookies, csrf = data
        case.cookies = {**(case.cookies or {}), **cookies}
        case.headers = {**(case.headers or {}), "X-CSRF-Token": csrf}


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # One connection per request, so each leaves from its own address.
    case.headers = {**(case.headers or {}), "Connection": "close"}


# --- Only HTTP ------------------------------------------------------------
# A header value may hold visible characters, spaces, tabs and obs-text (RFC
# 9110 section 5.5). Schemathesis's own filter only keeps out line breaks, so
# it sends other control bytes, which the HTTP server refuses before any
# route with an empty 400: not an answer of the API, and documented as such.
# tests/local_server.rs proves that refusal changes nothing.
def _is_http_field_value(value):
    return all(char == "\t" or " " <= char <= "~" or "\x80" <= char <= "\xff" for char in str(value))


@schemathesis.hook
def filter_headers(ctx, headers):
    return headers is None or all(_is_http_field_value(value) for value in headers.values())


# --- Errors are problem+json ---------------------------------------------
PROBLEM_JSON = "application/problem+json"
HTML = "text/html"
PROBLEM_MEMBERS = ("type", "title", "status", "code")


def _media_types(response_definition):
    content = response_definition.definition.get("content") or {}
    return {media.split(";")[0].strip().lower() for media in content}


def _answers_people(case, status):
    """Whether the operation documents an HTML answer for `status`, or,
    when it documents nothing for it, HTML answers at all (a page)."""
    documented = case.operation.responses.find_by_status_code(status)
    if documented is not None:
        return HTML in _media_types(documented)
    return any(HTML in _media_types(response) for _, response in case.operation.responses.items())


@schemathesis.check
def problem_json_errors(ctx, response, case):
    """A 4xx of the API is problem+json, with `type`, `title`, `status` (the
    response's) and a non-empty `code`. Pages, whose documented 4xx is
    text/html, answer people and are exempt; a problem+json they send is
    still checked."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    # Schemathesis keeps response headers by lowercase name, as lists.
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    if media != PROBLEM_JSON:
        if _answers_people(case, status):
            return None
        raise AssertionError(f"{status} answered with Content-Type {media or '(none)'!r}, not {PROBLEM_JSON}")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{status} problem+json body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{status} problem+json body is not an object: {body!r}")
    missing = [member for member in PROBLEM_MEMBERS if member not in body]
    if missing:
        raise AssertionError(f"{status} problem+json body lacks {missing}: {body!r}")
    if body["status"] != status:
        raise AssertionError(f"problem+json status {body['status']!r} differs from the response's {status}")
    if not isinstance(body["code"], str) or not body["code"]:
        raise AssertionError(f"problem+json code is not a non-empty string: {body['code']!r}")
    return None
