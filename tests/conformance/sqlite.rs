//! The conformance suite on the embedded backends: SQLite table and queue,
//! local key file. Each test gets its own temp directory and database file.

use std::sync::Arc;

use konnecs::adapters::envelope::EnvelopeVault;
use konnecs::adapters::local_keys::LocalDataKeys;
use konnecs::adapters::object_dir::DirObjectStore;
use konnecs::adapters::sqlite::{Database, SqliteQueue, SqliteTable};
use konnecs::ports::{Clock, TestClock};

use crate::{KeysFixture, ObjectsFixture, QueueFixture, TableFixture};

fn database() -> (Arc<Database>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(&dir.path().join("konnecs.db")).expect("open database");
    (db, dir)
}

async fn table(clock: Arc<dyn Clock>) -> TableFixture {
    let (db, dir) = database();
    TableFixture {
        table: Arc::new(SqliteTable::new(db, clock)),
        keep: Box::new(dir),
    }
}

async fn queue(max_receives: u32) -> QueueFixture {
    let (db, dir) = database();
    // The suite moves this clock past visibility timeouts instead of waiting.
    let clock = TestClock::at(jiff::Timestamp::now());
    let queue = SqliteQueue::new(db, "jobs", max_receives, Arc::new(clock.clone()));
    QueueFixture {
        dead_letters: Arc::new(queue.dead_letters()),
        queue: Arc::new(queue),
        clock: Some(clock),
        keep: Box::new(dir),
    }
}

async fn keys() -> KeysFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = LocalDataKeys::open_or_create(dir.path().join("master.key")).expect("key file");
    KeysFixture {
        vault: Arc::new(EnvelopeVault::new(keys)),
        keep: Box::new(dir),
    }
}

/// Every file under `dir`, as sorted paths relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(dir).expect("under dir").display().to_string());
            }
        }
    }
    files.sort();
    files
}

/// The directory store in `<temp>/objects`; `contents` lists all of `<temp>`,
/// so a write that escaped the root shows too.
async fn dir_objects() -> ObjectsFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let outer = dir.path().to_path_buf();
    ObjectsFixture {
        store: Arc::new(DirObjectStore::new(outer.join("objects"))),
        contents: Box::new(move || {
            let outer = outer.clone();
            Box::pin(async move { files_under(&outer) })
        }),
        direct_links: false,
        names_ended_uploads: true,
        keep: Box::new(dir),
    }
}

table_suite!(table);
queue_suite!(queue);
keys_suite!(keys);

/// Test paths read `sqlite::objects::...` (the local runtime's directory store).
mod objects {
    objects_suite!(super::dir_objects);
}
