//! The shared crate's imports point inward, and no two of its modules import
//! each other, directly or around a loop.
//!
//! Layers, from the inside out (`ARCHITECTURE.md` draws them):
//!
//! | layer | modules | may import |
//! |---|---|---|
//! | domain | `domain` | nothing else |
//! | ports | `ports`, `config` | domain |
//! | adapters | `adapters` | ports, config (the settings they are built from), domain |
//! | services | `services` | ports, config, domain |
//! | inbound | `inbound` | services, ports, config, domain |
//! | composition | `app`, `catalogue`, `openapi`, `lambda`, `local`, `telemetry`, `bin` | anything |
//!
//! The scan reads every `crate::…`, `super::…` and `self::…` path in the
//! production code of `shared/src` (a file's `#[cfg(test)]` tail and its
//! `tests.rs`/`properties.rs` are test code and may reach further), resolves
//! each to the file of the module it names, and checks the arrows between
//! files. A parent module naming its own child (`pub use child::X`) is not an
//! arrow: the parent is the child's face, and counting it would call every
//! `mod.rs` a cycle with its children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`services::contacts::fields`) of every file of the crate.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src").with_extension("");
            let mut segments: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().replace('-', "_"))
                .collect();
            if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
                segments.pop();
            }
            let name = segments.join("::");
            if ["tests", "properties"].contains(&segments.last().map(String::as_str).unwrap_or("")) {
                continue;
            }
            found.insert(name, path);
        }
    }
    found
}

/// The production part of a file: without comments, string literals and the
/// `#[cfg(test)]` tail.
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands a path that may end in a `{…}` group into every full path it names.
fn expand(prefix: &str, rest: &str, into: &mut Vec<String>) {
    let rest = rest.trim_start();
    let ident: String = rest.chars().take_while(|&c| is_ident(c)).collect();
    if !ident.is_empty() {
        let joined = if prefix.is_empty() {
            ident.clone()
        } else {
            format!("{prefix}::{ident}")
        };
        let after = &rest[ident.len()..];
        match after.trim_start().strip_prefix("::") {
            Some(more) => expand(&joined, more, into),
            None => into.push(joined),
        }
        return;
    }
    let Some(group) = rest.strip_prefix('{') else {
        into.push(prefix.to_string());
        return;
    };
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                expand(prefix, &group[start..i], into);
                return;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(prefix, &group[start..i], into);
                start = i + 1;
            }
            _ => {}
        }
    }
}

/// Every module path a file's production code names, absolute from the crate root.
fn named_paths(module: &str, code: &str) -> Vec<String> {
    let own: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut paths = Vec::new();
    for anchor in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(anchor) {
            let at = from + found;
            from = at + anchor.len();
            if at > 0 && code[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let mut base: Vec<&str> = match anchor {
                "crate::" => Vec::new(),
                "self::" => own.clone(),
                _ => own[..own.len().saturating_sub(1)].to_vec(),
            };
            let mut rest = &code[from..];
            // `super::super::x`
            while let Some(more) = rest.strip_prefix("super::") {
                base.pop();
                rest = more;
            }
            let mut expanded = Vec::new();
            expand(&base.join("::"), rest, &mut expanded);
            paths.extend(expanded);
        }
    }
    paths
}

/// The file (module) a path names: its longest prefix that is a module.
fn target_module<'a>(path: &str, modules: &'a BTreeMap<String, PathBuf>) -> Option<&'a str> {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find_map(|candidate| modules.get_key_value(&candidate).map(|(k, _)| k.as_str()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Domain,
    Ports,
    Adapters,
    Services,
    Inbound,
    Composition,
}

fn layer(module: &str) -> Layer {
    match module.split("::").next().unwrap_or("") {
        "domain" => Layer::Domain,
        "ports" | "config" => Layer::Ports,
        "adapters" => Layer::Adapters,
        "services" => Layer::Services,
        "inbound" => Layer::Inbound,
        _ => Layer::Composition,
    }
}

fn allowed(from: Layer, to: Layer) -> bool {
    use Layer::*;
    from == to
        || match from {
            Domain => false,
            Ports => to == Domain,
            Adapters => matches!(to, Ports | Domain),
            // `config` shares the ports' layer: an adapter may read its settings.
            Services => matches!(to, Ports | Domain),
            Inbound => matches!(to, Services | Ports | Domain),
            Composition => true,
        }
}

/// Arrows between files: (importer, imported) → the paths that make it.
fn arrows(src: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let modules = modules(src);
    let mut arrows: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        for path in named_paths(module, &production_code(&text)) {
            let Some(target) = target_module(&path, &modules) else {
                continue;
            };
            let is_own_child = target
                .strip_prefix(module.as_str())
                .is_some_and(|rest| module.is_empty() && !target.is_empty() || rest.starts_with("::"));
            if target == module || is_own_child || target.is_empty() {
                continue;
            }
            arrows
                .entry((module.clone(), target.to_string()))
                .or_default()
                .insert(path);
        }
    }
    arrows
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    struct State<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        counter: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.counter);
        s.low.insert(v, s.counter);
        s.counter += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.next.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        counter: 0,
        found: Vec::new(),
    };
    for (from, to) in edges {
        state.next.entry(from.as_str()).or_default().push(to.as_str());
    }
    let nodes: Vec<&str> = state.next.keys().copied().collect();
    for node in nodes {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

#[test]
fn imports_point_inward() {
    let arrows = arrows(&shared_src());
    assert!(
        arrows.len() > 100,
        "the scan found only {} arrows: is it reading the crate?",
        arrows.len()
    );
    let upward: Vec<String> = arrows
        .iter()
        .filter(|((from, to), _)| !allowed(layer(from), layer(to)))
        .map(|((from, to), paths)| format!("{from} ({:?}) -> {to} ({:?}): {paths:?}", layer(from), layer(to)))
        .collect();
    assert!(upward.is_empty(), "imports that point outward:\n{}", upward.join("\n"));
}

#[test]
fn no_module_imports_itself_around_a_loop() {
    let arrows = arrows(&shared_src());
    let edges: BTreeSet<(String, String)> = arrows.keys().cloned().collect();
    let found = cycles(&edges);
    let described: Vec<String> = found
        .iter()
        .map(|component| {
            let ties: Vec<String> = arrows
                .iter()
                .filter(|((from, to), _)| component.contains(from) && component.contains(to))
                .map(|((from, to), paths)| format!("  {from} -> {to}: {paths:?}"))
                .collect();
            format!(
                "{} modules: {}\n{}",
                component.len(),
                component.join(", "),
                ties.join("\n")
            )
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", described.join("\n"));
}

/// The scan itself: it must see grouped, nested and relative imports, or the
/// two tests above would pass on a crate they cannot read.
#[test]
fn the_scan_reads_grouped_relative_and_nested_paths() {
    let code = production_code(
        "use crate::{ports::{Table, clock::Clock}, domain::email};\n\
         use super::super::records::key; // crate::app::Ignored\n\
         let s = \"crate::catalogue\"; self::child::f();\n\
         #[cfg(test)] mod tests { use crate::app::AppState; }",
    );
    let mut paths = named_paths("services::contacts::fields", &code);
    paths.sort();
    assert_eq!(
        paths,
        [
            "domain::email",
            "ports::Table",
            "ports::clock::Clock",
            "services::contacts::fields::child::f",
            "services::records::key",
        ]
    );
    assert!(!allowed(Layer::Services, Layer::Composition));
    assert!(!allowed(Layer::Adapters, Layer::Services));
    assert!(allowed(Layer::Inbound, Layer::Services));
    let loop_of_three: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .into_iter()
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect();
    assert_eq!(
        cycles(&loop_of_three),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
}

/// Every text goes through `services::notifications::send_sms`: the one
/// place that claims its idempotency key and the appointment's allowance
/// and checks the opt-out before the `Sms` port sends. A call of the port's
/// `send` anywhere else in the production code would bypass them.
#[test]
fn only_the_sms_service_calls_the_sms_port() {
    let src = shared_src();
    let gateway = src.join("services/notifications/sms.rs");
    let mut callers = Vec::new();
    let mut gateway_sends = false;
    for (module, path) in modules(&src) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let code: String = production_code(&text).chars().filter(|c| !c.is_whitespace()).collect();
        let sends = ["sms().send(", ".sms.send("].iter().any(|call| code.contains(call));
        if path == gateway {
            gateway_sends = sends;
        } else if sends {
            callers.push(module);
        }
    }
    assert!(
        gateway_sends,
        "the scan no longer recognises send_sms's own call of the port"
    );
    assert!(
        callers.is_empty(),
        "the Sms port is called outside send_sms: {callers:?}"
    );
}
