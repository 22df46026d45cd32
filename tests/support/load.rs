//! Load with crashes: the real `konnecs-local` process on its embedded
//! store, driven over TCP by many signed-in clients with a mixed workload
//! (public slot reads and bookings, contact creates, searches, timeline
//! reads), at an open-loop rate, while a controller may SIGKILL and restart
//! the server on the same data directory. Every write answered 2xx is
//! recorded so it can be looked for afterwards ([`crate::load_check`]).
//! Used by the `load-gen` benchmark (BENCHMARKS.md "Load with crashes") and
//! by the short crash test of `tests/run`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Requests each client may have in flight: one (a client is a person at a browser).
pub const DEFAULT_CLIENTS: usize = 200;

/// Source addresses per client for public requests. The public routes are
/// limited per IP (a visitor, not a script); on Linux all of 127/8 is
/// loopback, so the clients stand for many visitors without leaving the
/// machine.
const PUBLIC_ADDRESSES_PER_CLIENT: usize = 10;

/// 15-minute slots in the booking window of every event type.
const SLOT_MINUTES: i64 = 15;
pub const SLOTS_PER_DAY: i64 = 24 * 60 / SLOT_MINUTES;
/// Rolling booking window: long, so thousands of bookings a minute leave
/// most slots free and a 409 stays a race, not the normal answer.
pub const WINDOW_DAYS: i64 = 3_000;

/// A small deterministic generator (SplitMix64): the workload needs spread, not secrecy.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

// ------------------------------------------------------------------ server

/// A loopback port free right now (the server binds it for its whole life,
/// restarts included, so clients never need a new address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `konnecs-local` on `127.0.0.1:port` over `data_dir`, restartable.
pub struct ServerProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    port: u16,
    child: Option<Child>,
    pub starts: usize,
}

impl ServerProcess {
    pub fn new(binary: PathBuf, data_dir: &Path, port: u16) -> Self {
        Self {
            binary,
            data_dir: data_dir.to_path_buf(),
            port,
            child: None,
            starts: 0,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("konnecs.sqlite3")
    }

    /// Starts the server and waits (bounded) for the line saying it listens.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut child = Command::new(&self.binary)
            .env("KONNECS_ADDR", format!("127.0.0.1:{}", self.port))
            .env("KONNECS_DATA_DIR", &self.data_dir)
            .env("KONNECS_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.binary.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        // Drains the request log for the process's whole life: a full pipe
        // would block the server's writes.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Konnecs is running at ") {
                    let _ = ready_tx.send(());
                }
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("konnecs-local did not say it was running within 60 s");
        }
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL (`Child::kill` on Unix): no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `konnecs-local` built beside the running executable (a bin sits next to
/// it; a test's executable is one level down, in `deps/`).
pub fn local_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KONNECS_LOCAL_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        let candidate = d.join("konnecs-local");
        if candidate.exists() {
            return candidate;
        }
        dir = d
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| p.ends_with("target") || p.join("deps").exists());
    }
    panic!(
        "konnecs-local is not built next to {}: build it first (tests/run does)",
        exe.display()
    );
}

// ------------------------------------------------------------------ tenants

/// A signed-in member, as the web app holds it: the session cookie and the CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// One organization: its host, its booking pages and the contacts known to exist.
pub struct Tenant {
    pub index: usize,
    pub session: Session,
    pub org_slug: String,
    pub event_slugs: Vec<String>,
    pub contacts: Mutex<Vec<String>>,
}

impl Tenant {
    fn any_contact(&self, rng: &mut Rng) -> Option<String> {
        let contacts = self.contacts.lock().unwrap_or_else(PoisonError::into_inner);
        (!contacts.is_empty()).then(|| contacts[rng.below(contacts.len() as u64) as usize].clone())
    }
}

pub fn client(local: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(2)
        .build()
        .expect("http client")
}

pub async fn staff(
    http: &reqwest::Client,
    base: &str,
    session: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = http
        .request(method, format!("{base}{path}"))
        .header("cookie", format!("__Host-konnecs_session={}", session.cookie))
        .header("x-csrf-token", &session.csrf)
        .header("user-agent", "konnecs-load");
    if let Some(body) = body {
        request = request.json(body);
    }
    answer(request.send().await?).await
}

async fn answer(response: reqwest::Response) -> Result<(u16, Value), reqwest::Error> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

#[track_caller]
fn expect_status(what: &str, got: (u16, Value), want: u16) -> Value {
    assert_eq!(got.0, want, "{what}: {}", got.1);
    got.1
}

/// Signs `orgs` organizations up, each open around the clock (UTC) with
/// `event_types` booking pages of 15-minute slots over [`WINDOW_DAYS`] and
/// `seed_contacts` contacts, so searches and timelines have something to read.
pub async fn set_up(base: &str, run: &str, orgs: usize, event_types: usize, seed_contacts: usize) -> Vec<Arc<Tenant>> {
    let http = client(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut tenants = Vec::new();
    for index in 0..orgs {
        let signup = json!({
            "name": format!("Host {index}"), "email": format!("host{index}-{run}@load.example"),
            "password": "load-test-password-42", "business_name": format!("Load {run} {index}"),
        });
        let response = http
            .post(format!("{base}/auth/signup"))
            .json(&signup)
            .send()
            .await
            .expect("sign-up");
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("__Host-konnecs_session="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string)
            .expect("session cookie");
        let body = expect_status("sign-up", answer(response).await.expect("sign-up body"), 201);
        let session = Session {
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf").to_string(),
        };
        let call = |method: reqwest::Method, path: &'static str, body: Option<Value>| {
            let http = http.clone();
            let session = session.clone();
            async move {
                staff(&http, base, &session, method, path, body.as_ref())
                    .await
                    .expect("set-up request")
            }
        };
        let day = json!([{"start": "00:00", "end": "24:00"}]);
        let weekly: serde_json::Map<String, Value> = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .into_iter()
        .map(|d| (d.to_string(), day.clone()))
        .collect();
        let schedule = json!({"name": "Always", "time_zone": "UTC", "weekly": weekly});
        let schedule = expect_status(
            "schedule",
            call(reqwest::Method::POST, "/schedules", Some(schedule)).await,
            201,
        );
        let mut event_slugs = Vec::new();
        for e in 0..event_types {
            let event = json!({
                "title": format!("Visit {e}"), "slug": format!("visit-{e}"), "durations": [SLOT_MINUTES],
                "schedule_id": schedule["id"], "window": {"kind": "rolling", "days": WINDOW_DAYS},
                "location": {"kind": "in_person", "address": "1 Load St"},
            });
            let event = expect_status(
                "event type",
                call(reqwest::Method::POST, "/event-types", Some(event)).await,
                201,
            );
            event_slugs.push(event["slug"].as_str().expect("slug").to_string());
        }
        let org = expect_status("org", call(reqwest::Method::GET, "/org", None).await, 200);
        let mut contacts = Vec::new();
        for c in 0..seed_contacts {
            let contact = json!({"first_name": format!("Seed{c}"), "last_name": "Load", "emails": [format!("seed{c}-{index}-{run}@load.example")]});
            let created = expect_status(
                "seed contact",
                call(reqwest::Method::POST, "/contacts", Some(contact)).await,
                201,
            );
            contacts.push(created["id"].as_str().expect("contact id").to_string());
        }
        tenants.push(Arc::new(Tenant {
            index,
            session,
            org_slug: org["slug"].as_str().expect("org slug").to_string(),
            event_slugs,
            contacts: Mutex::new(contacts),
        }));
    }
    tenants
}

// ------------------------------------------------------------------ workload

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    Slots,
    Book,
    CreateContact,
    Search,
    Timeline,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Slots, Op::Book, Op::CreateContact, Op::Search, Op::Timeline];

    pub fn name(self) -> &'static str {
        match self {
            Op::Slots => "public slots",
            Op::Book => "public booking",
            Op::CreateContact => "contact create",
            Op::Search => "contact search",
            Op::Timeline => "timeline read",
        }
    }
}

/// Shares of the mix, out of 100.
pub const MIX: [(Op, u64); 5] = [
    (Op::Slots, 30),
    (Op::Book, 10),
    (Op::CreateContact, 20),
    (Op::Search, 20),
    (Op::Timeline, 20),
];

fn pick(rng: &mut Rng, mix: &[(Op, u64)]) -> Op {
    let total: u64 = mix.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (op, weight) in mix {
        if roll < *weight {
            return *op;
        }
        roll -= weight;
    }
    mix[0].0
}

/// A write the server acknowledged with a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    Contact { tenant: usize, id: String },
    Booking { tenant: usize, id: String },
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Answer {
    Status(u16),
    /// 409 `slot_taken`: another booking won the slot; an expected answer.
    SlotTaken,
    /// No HTTP answer: refused, reset or timed out (the server was down or dying).
    Transport,
}

#[derive(Default)]
pub struct Outcomes {
    /// Latency in microseconds from the request's scheduled start, per answered request.
    pub latencies_us: Mutex<Vec<u32>>,
    pub answers: Mutex<BTreeMap<(Op, Answer), u64>>,
    pub acks: Mutex<Vec<Ack>>,
}

impl Outcomes {
    fn record(&self, op: Op, answer: Answer, latency: Option<Duration>) {
        *self
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((op, answer))
            .or_default() += 1;
        if let Some(latency) = latency {
            let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
            self.latencies_us
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(us);
        }
    }
}

/// One scheduled request.
struct Ticket {
    due: Instant,
    op: Op,
}

pub struct LoadPlan {
    /// Target requests per second (open loop: requests start on schedule
    /// whether or not earlier ones have finished, so a slow server shows
    /// as latency, not as a lower offered rate). `None`: closed loop, each
    /// client sends its next request as soon as the last one answers.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub mix: Vec<(Op, u64)>,
    /// Bookings ask for one of this many 15-minute starts, from the day
    /// after tomorrow on: the whole window spreads them thin, a day or less
    /// makes them race for the same slots.
    pub booking_slots: i64,
    pub seed: u64,
}

/// Everything a run measured.
pub struct RunReport {
    pub label: String,
    pub elapsed: Duration,
    pub sent: u64,
    pub latencies_us: Vec<u32>,
    pub answers: BTreeMap<(Op, Answer), u64>,
    pub acks: Vec<Ack>,
}

impl RunReport {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
    pub fn answered(&self) -> u64 {
        self.latencies_us.len() as u64
    }
    pub fn count(&self, f: impl Fn(Op, Answer) -> bool) -> u64 {
        self.answers
            .iter()
            .filter(|((op, answer), _)| f(*op, *answer))
            .map(|(_, n)| n)
            .sum()
    }
    pub fn server_errors(&self) -> u64 {
        self.count(|_, a| matches!(a, Answer::Status(s) if s >= 500))
    }
    pub fn transport_errors(&self) -> u64 {
        self.count(|_, a| a == Answer::Transport)
    }
    /// Answers that are neither success nor an expected refusal (409 slot_taken, 429).
    pub fn unexpected(&self) -> u64 {
        self.count(|_, a| matches!(a, Answer::Status(s) if !(200..300).contains(&s) && s != 429))
    }
    pub fn throughput(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64()
    }
    pub fn acked_writes_per_second(&self) -> f64 {
        self.acks.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn print(&self) {
        println!(
            "{}: {} requests sent, {} answered in {:.1} s = {:.0} answers/s; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.label,
            self.sent,
            self.answered(),
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.quantile_ms(1.0),
        );
        println!(
            "  writes acknowledged (2xx contact creates and bookings): {} = {:.0}/s; 5xx {}; no answer (server down) {}",
            self.acks.len(),
            self.acked_writes_per_second(),
            self.server_errors(),
            self.transport_errors()
        );
        for op in Op::ALL {
            let by: Vec<String> = self
                .answers
                .iter()
                .filter(|((o, _), _)| *o == op)
                .map(|((_, answer), n)| match answer {
                    Answer::Status(s) => format!("{s}: {n}"),
                    Answer::SlotTaken => format!("409 slot_taken: {n}"),
                    Answer::Transport => format!("no answer: {n}"),
                })
                .collect();
            if !by.is_empty() {
                println!("  {:<15} {}", op.name(), by.join(", "));
            }
        }
    }
}

/// What each client holds: its tenant, its staff connection and its public addresses.
struct Client {
    tenant: Arc<Tenant>,
    staff: reqwest::Client,
    public: Vec<reqwest::Client>,
    rng: Rng,
    run: String,
}

/// Source address `k` of client `c`: 127.1.c.k+1 (loopback).
fn public_address(c: usize, k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1 + (c / 250) as u8, (c % 250) as u8, (k + 1) as u8))
}

/// The clients of a run; reused across runs so connections and addresses stay.
pub struct Clients(Vec<Mutex<Option<Client>>>);

impl Clients {
    pub fn new(tenants: &[Arc<Tenant>], count: usize, run: &str, seed: u64) -> Self {
        Self(
            (0..count)
                .map(|c| {
                    Mutex::new(Some(Client {
                        tenant: tenants[c % tenants.len()].clone(),
                        staff: client(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                        public: (0..PUBLIC_ADDRESSES_PER_CLIENT)
                            .map(|k| client(public_address(c, k)))
                            .collect(),
                        rng: Rng::new(seed ^ (c as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)),
                        run: run.to_string(),
                    }))
                })
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Today (UTC) as a date.
fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Runs one request of `op`; the answer, and the write it acknowledged if any.
async fn perform(client: &mut Client, base: &str, op: Op, serial: u64, booking_slots: i64) -> (Answer, Option<Ack>) {
    let tenant = client.tenant.clone();
    let k = client.rng.below(client.public.len() as u64) as usize;
    let page = &tenant.event_slugs[client.rng.below(tenant.event_slugs.len() as u64) as usize];
    let page = format!("{base}/public/booking/{}/{page}", tenant.org_slug);
    let result = match op {
        Op::Slots => {
            let from = today()
                .checked_add(jiff::Span::new().days(1 + client.rng.below(WINDOW_DAYS as u64 - 10) as i64))
                .unwrap_or_else(|_| today());
            let to = from.checked_add(jiff::Span::new().days(6)).unwrap_or(from);
            let url = format!("{page}/slots?from={from}&to={to}&tz=UTC&duration={SLOT_MINUTES}");
            match client.public[k].get(url).send().await {
                Ok(response) => answer(response).await,
                Err(e) => Err(e),
            }
        }
        Op::Book => {
            let slot = client
                .rng
                .below(booking_slots.clamp(1, (WINDOW_DAYS - 4) * SLOTS_PER_DAY) as u64) as i64;
            let start = today()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|midnight| midnight.timestamp())
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .checked_add(jiff::SignedDuration::from_mins(2 * 24 * 60 + slot * SLOT_MINUTES))
                .unwrap_or_else(|_| jiff::Timestamp::now());
            let body = json!({
                "start": start.to_string(), "name": format!("Guest {serial}"),
                "email": format!("guest{serial}-{}@load.example", client.run), "time_zone": "UTC",
            });
            match client.public[k]
                .post(format!("{page}/bookings"))
                .json(&body)
                .send()
                .await
            {
                Ok(response) => answer(response).await,
                Err(e) => Err(e),
            }
        }
        Op::CreateContact => {
            let body = json!({
                "first_name": format!("Given{serial}"), "last_name": "Load",
                "emails": [format!("person{serial}-{}@load.example", client.run)],
            });
            staff(
                &client.staff,
                base,
                &tenant.session,
                reqwest::Method::POST,
                "/contacts",
                Some(&body),
            )
            .await
        }
        Op::Search => {
            let q = format!("Given{}", client.rng.below(1000));
            staff(
                &client.staff,
                base,
                &tenant.session,
                reqwest::Method::GET,
                &format!("/contacts?q={q}&limit=25"),
                None,
            )
            .await
        }
        Op::Timeline => {
            let Some(id) = tenant.any_contact(&mut client.rng) else {
                return (Answer::Status(0), None);
            };
            staff(
                &client.staff,
                base,
                &tenant.session,
                reqwest::Method::GET,
                &format!("/contacts/{id}/timeline"),
                None,
            )
            .await
        }
    };
    match result {
        Err(_) => (Answer::Transport, None),
        Ok((409, body)) if op == Op::Book && body["code"] == "slot_taken" => (Answer::SlotTaken, None),
        Ok((status, body)) if (200..300).contains(&status) => {
            let ack = match op {
                Op::CreateContact => body["id"].as_str().map(|id| {
                    tenant
                        .contacts
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(id.to_string());
                    Ack::Contact {
                        tenant: tenant.index,
                        id: id.to_string(),
                    }
                }),
                Op::Book => body["booking"]["id"].as_str().map(|id| Ack::Booking {
                    tenant: tenant.index,
                    id: id.to_string(),
                }),
                _ => None,
            };
            (Answer::Status(status), ack)
        }
        Ok((status, _)) => (Answer::Status(status), None),
    }
}

/// Shared between the load and whoever watches it (the crash controller).
#[derive(Default)]
pub struct Progress {
    pub acked: AtomicUsize,
    pub stop: AtomicBool,
}

/// Numbers the requests of every run of the process, so no two contact
/// creates or bookings share an email (a second run would meet 409
/// duplicate_contact otherwise).
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Runs `plan` against `base`; bounded by its duration (plus at most 30 s
/// for late requests to be sent, and their timeout) or an earlier `progress.stop`.
pub async fn run(label: &str, base: &str, clients: &Clients, plan: &LoadPlan, progress: Arc<Progress>) -> RunReport {
    let outcomes = Arc::new(Outcomes::default());
    let started = Instant::now();
    let end = started + plan.duration;
    let give_up = end + Duration::from_secs(30);
    let sent = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Ticket>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mix = plan.mix.clone();
    let mut dispatcher_rng = Rng::new(plan.seed);
    let open_loop = plan.rate;
    let booking_slots = plan.booking_slots;
    let dispatcher = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let Some(rate) = open_loop else { return };
            let mut i: u64 = 0;
            loop {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                if due >= end || progress.stop.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let op = pick(&mut dispatcher_rng, &mix);
                if tx.send(Ticket { due, op }).is_err() {
                    break;
                }
                i += 1;
            }
        })
    };
    let mut workers = Vec::new();
    for slot in &clients.0 {
        let mut client = slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("client free");
        let rx = rx.clone();
        let outcomes = outcomes.clone();
        let progress = progress.clone();
        let sent = sent.clone();
        let base = base.to_string();
        let mix = plan.mix.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let ticket = if open_loop.is_some() {
                    // Tickets still queued this late are left unsent (the
                    // report shows sent < scheduled): the run stays bounded.
                    if Instant::now() >= give_up {
                        break;
                    }
                    let next = tokio::time::timeout_at(give_up.into(), async { rx.lock().await.recv().await }).await;
                    match next {
                        Ok(Some(ticket)) => ticket,
                        _ => break,
                    }
                } else {
                    if Instant::now() >= end || progress.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    Ticket {
                        due: Instant::now(),
                        op: pick(&mut client.rng, &mix),
                    }
                };
                sent.fetch_add(1, Ordering::Relaxed);
                let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
                let (answer, ack) = perform(&mut client, &base, ticket.op, serial, booking_slots).await;
                let latency = (answer != Answer::Transport).then(|| ticket.due.elapsed());
                outcomes.record(ticket.op, answer, latency);
                if let Some(ack) = ack {
                    outcomes.acks.lock().unwrap_or_else(PoisonError::into_inner).push(ack);
                    progress.acked.fetch_add(1, Ordering::SeqCst);
                }
            }
            client
        }));
    }
    let _ = dispatcher.await;
    for (slot, worker) in clients.0.iter().zip(workers) {
        let client = worker.await.expect("worker");
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(client);
    }
    // Until the last answer: a server that fell behind took longer than
    // the plan, and its throughput is what it answered in that time.
    let elapsed = started.elapsed();
    let outcomes = Arc::into_inner(outcomes).expect("workers done");
    let mut latencies_us = outcomes
        .latencies_us
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    latencies_us.sort_unstable();
    RunReport {
        label: label.to_string(),
        elapsed,
        sent: sent.load(Ordering::SeqCst),
        latencies_us,
        answers: outcomes.answers.into_inner().unwrap_or_else(PoisonError::into_inner),
        acks: outcomes.acks.into_inner().unwrap_or_else(PoisonError::into_inner),
    }
}
