//! Test helper process: writes items to an embedded store as fast as it can
//! and prints `ack <n>` after each write returns, so a test can SIGKILL it
//! mid-write and check that every acknowledged write survived.

use std::io::Write;
use std::sync::Arc;

use konnecs::adapters::sqlite::{Database, table::SqliteTable};
use konnecs::ports::{SystemClock, Table};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: store-writer <database path>");
    let db = Database::open(std::path::Path::new(&path)).expect("open store");
    let table: Arc<dyn Table> = Arc::new(SqliteTable::new(db, Arc::new(SystemClock)));
    // Bounded: the test kills the process long before this ends.
    for n in 0..200_000u32 {
        let item = json!({"pk": "WRITER", "sk": format!("{n:08}"), "n": n, "payload": "x".repeat(200)});
        let serde_json::Value::Object(item) = item else {
            unreachable!()
        };
        table.put(item, None).await.expect("put");
        let mut out = std::io::stdout().lock();
        writeln!(out, "ack {n}").expect("stdout");
        out.flush().expect("flush");
    }
}
