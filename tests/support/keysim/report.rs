//! The simulation's answer: every key's figures, the hottest keys, the
//! largest item collections, and the hottest key of each access pattern.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Config;
use super::meter::{BUDGET, KeyStats, PARTITION_READ_UNITS, PARTITION_WRITE_UNITS, Recorder, clock};
use super::reminders::TickCalls;

pub struct Report {
    pub config: Config,
    /// The keys worth reporting, hottest first (by [`KeyStats::load`], then
    /// name): every key at [`KEPT_LOAD`] of a limit or more (so every key over
    /// budget) and the [`KEPT_COLLECTIONS`] largest item collections.
    pub keys: Vec<KeyStats>,
    /// Every access pattern ([`pattern`] of the key names), hottest first.
    pub patterns: Vec<PatternStats>,
    /// Partition keys of the day (table and index partitions).
    pub key_count: usize,
    /// Store calls of the day (as the `Table` port counts them).
    pub calls: u64,
    /// Store calls of the reminder tick's minutes.
    pub tick: TickCalls,
    /// How long each part of the run took (not part of the result).
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

/// Keys at this share of a per-partition limit or more are kept by name.
pub const KEPT_LOAD: f64 = 0.01;
/// The largest item collections kept by name.
pub const KEPT_COLLECTIONS: usize = 10;

/// All keys of one access pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternStats {
    pub pattern: String,
    pub keys: usize,
    /// Units of the day over all its keys.
    pub writes_day: f64,
    pub reads_day: f64,
    /// Its hottest key and its largest item collection.
    pub hottest: KeyStats,
    pub largest: KeyStats,
}

fn hotter(a: &KeyStats, b: &KeyStats) -> bool {
    a.load().total_cmp(&b.load()).then_with(|| b.name.cmp(&a.name)).is_gt()
}

fn larger(a: &KeyStats, b: &KeyStats) -> bool {
    a.bytes.total_cmp(&b.bytes).then_with(|| b.name.cmp(&a.name)).is_gt()
}

impl Report {
    /// Measures the recorded day.
    pub fn collect(config: Config, recorder: Recorder, tick: TickCalls) -> Self {
        let calls = recorder.calls;
        let mut keys = Vec::new();
        let mut largest: Vec<KeyStats> = Vec::new();
        let mut patterns: BTreeMap<String, PatternStats> = BTreeMap::new();
        let mut key_count = 0;
        recorder.finish(|key| {
            key_count += 1;
            let shape = pattern(&key.name);
            match patterns.get_mut(&shape) {
                Some(p) => {
                    p.keys += 1;
                    p.writes_day += key.writes_day;
                    p.reads_day += key.reads_day;
                    if hotter(&key, &p.hottest) {
                        p.hottest = key.clone();
                    }
                    if larger(&key, &p.largest) {
                        p.largest = key.clone();
                    }
                }
                None => {
                    patterns.insert(
                        shape.clone(),
                        PatternStats {
                            pattern: shape,
                            keys: 1,
                            writes_day: key.writes_day,
                            reads_day: key.reads_day,
                            hottest: key.clone(),
                            largest: key.clone(),
                        },
                    );
                }
            }
            if largest.len() < KEPT_COLLECTIONS || larger(&key, &largest[largest.len() - 1]) {
                largest.push(key.clone());
                largest.sort_by(|a, b| {
                    if larger(a, b) {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                });
                largest.truncate(KEPT_COLLECTIONS);
            }
            if key.load() >= KEPT_LOAD {
                keys.push(key);
            }
        });
        for key in largest {
            if !keys.iter().any(|k| k.name == key.name) {
                keys.push(key);
            }
        }
        keys.sort_by(|a, b| b.load().total_cmp(&a.load()).then_with(|| a.name.cmp(&b.name)));
        let mut patterns: Vec<PatternStats> = patterns.into_values().collect();
        patterns.sort_by(|a, b| {
            b.hottest
                .load()
                .total_cmp(&a.hottest.load())
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        Self {
            config,
            keys,
            patterns,
            key_count,
            calls,
            tick,
            phases: Vec::new(),
        }
    }

    pub fn hottest(&self, n: usize) -> &[KeyStats] {
        &self.keys[..n.min(self.keys.len())]
    }

    /// Keys over [`BUDGET`] of a per-partition limit in either window.
    pub fn over_budget(&self) -> Vec<&KeyStats> {
        self.keys.iter().filter(|k| !k.within_budget()).collect()
    }

    pub fn key(&self, name: &str) -> Option<&KeyStats> {
        self.keys.iter().find(|k| k.name == name)
    }

    pub fn pattern(&self, pattern: &str) -> Option<&PatternStats> {
        self.patterns.iter().find(|p| p.pattern == pattern)
    }

    /// The largest item collections, largest first.
    pub fn largest_collections(&self, n: usize) -> Vec<&KeyStats> {
        let mut keys: Vec<&KeyStats> = self.keys.iter().collect();
        keys.sort_by(|a, b| b.bytes.total_cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        keys.truncate(n);
        keys
    }

    /// Totals of the day: (write units, read units).
    pub fn totals(&self) -> (f64, f64) {
        self.patterns
            .iter()
            .fold((0.0, 0.0), |(w, r), p| (w + p.writes_day, r + p.reads_day))
    }

    /// The report as text (what the benchmark binary prints).
    pub fn render(&self, top: usize) -> String {
        let mut out = String::new();
        let c = &self.config;
        let (writes, reads) = self.totals();
        let _ = writeln!(
            out,
            "population: {} organizations (Zipf {}), {} bookings/day, reminders {:?}, seed {:#x}, day {}",
            c.orgs, c.zipf, c.bookings_per_day, c.layout, c.seed, c.date
        );
        let _ = writeln!(
            out,
            "day: {} partition keys, {} store calls, {:.0} write units, {:.0} read units",
            self.key_count, self.calls, writes, reads
        );
        let _ = writeln!(
            out,
            "limits per key: {PARTITION_WRITE_UNITS} WCU/s, {PARTITION_READ_UNITS} RCU/s; budget {:.0} %\n",
            BUDGET * 100.0
        );
        let _ = writeln!(
            out,
            "hottest keys (units per second; 1 min = the busiest minute's average):"
        );
        table(&mut out, self.hottest(top).iter());
        let _ = writeln!(out, "\nhottest key of each pattern:");
        let _ = writeln!(
            out,
            "| pattern | keys | load | writes/s 1 s | writes/s 1 min | reads/s 1 s | reads/s 1 min |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for p in &self.patterns {
            let (pattern, n, k) = (&p.pattern, p.keys, &p.hottest);
            let _ = writeln!(
                out,
                "| `{pattern}` | {n} | {:.1} % | {:.1} | {:.1} | {:.1} | {:.1} |",
                k.load() * 100.0,
                k.writes_1s,
                k.writes_1m,
                k.reads_1s,
                k.reads_1m
            );
        }
        let _ = writeln!(out, "\nlargest item collections (steady state, a year of history):");
        let _ = writeln!(out, "| key | items | size |");
        let _ = writeln!(out, "|---|---:|---:|");
        for k in self.largest_collections(5) {
            let _ = writeln!(out, "| `{}` | {:.0} | {:.2} GB |", k.name, k.items, k.bytes / 1e9);
        }
        let _ = writeln!(
            out,
            "\nreminder tick: {} store calls in its busiest minute ({} UTC), {} in its quietest; at most {} reminders due in one minute",
            self.tick.busiest,
            clock(self.tick.busiest_minute),
            self.tick.quietest,
            self.tick.most_due
        );
        let over = self.over_budget();
        let _ = writeln!(
            out,
            "\n{} keys over {:.0} % of a per-partition limit",
            over.len(),
            BUDGET * 100.0
        );
        out
    }
}

fn table<'a>(out: &mut String, keys: impl Iterator<Item = &'a KeyStats>) {
    let _ = writeln!(
        out,
        "| key | load | writes/s 1 s (at) | writes/s 1 min | reads/s 1 s (at) | reads/s 1 min |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for k in keys {
        let _ = writeln!(
            out,
            "| `{}` | {:.1} % | {:.1} ({}) | {:.1} | {:.1} ({}) | {:.1} |",
            k.name,
            k.load() * 100.0,
            k.writes_1s,
            clock(k.writes_1s_at),
            k.writes_1m,
            k.reads_1s,
            clock(k.reads_1s_at),
            k.reads_1m
        );
    }
}

/// The shape of a key: ids (32 hex digits) become `<id>`, hashes (64)
/// `<hash>`, emails `<email>`, UTC minutes `<minute>`, other numbers `<n>`,
/// and slugs, tags and field keys `<slug>`, `<tag>`, `<eventslug>`, `<fieldkey>`.
pub fn pattern(name: &str) -> String {
    let (index, key) = match name.split_once(' ') {
        Some((index, key)) if index.starts_with("gsi") => (format!("{index} "), key),
        _ => (String::new(), name),
    };
    let mut previous = "";
    let segments: Vec<String> = key
        .split('#')
        .map(|segment| {
            let shape = match previous {
                // Names chosen by people: their shape says nothing.
                "SLUG" | "EVENTSLUG" | "TAG" | "FIELDKEY" => format!("<{}>", previous.to_lowercase()),
                _ if segment.contains('@') => "<email>".to_string(),
                _ => segment_pattern(segment),
            };
            previous = segment;
            shape
        })
        .collect();
    format!("{index}{}", segments.join("#"))
}

fn segment_pattern(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(segment.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        let minute = bytes.len() >= i + 16
            && bytes[i..i + 16].iter().enumerate().all(|(j, b)| match j {
                4 | 7 => *b == b'-',
                10 => *b == b'T',
                13 => *b == b':',
                _ => b.is_ascii_digit(),
            });
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if minute {
            out.push_str("<minute>");
            i += 16;
        } else if boundary && (hex == 32 || hex == 64) && !bytes.get(i + hex).is_some_and(u8::is_ascii_alphanumeric) {
            out.push_str(if hex == 32 { "<id>" } else { "<hash>" });
            i += hex;
        } else if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push_str("<n>");
        } else {
            let ch = segment[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}
