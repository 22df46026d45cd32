//! Backups of the embedded store: one file that holds everything a data
//! directory needs.
//!
//! The archive is itself a SQLite database: a consistent copy of the store,
//! taken with SQLite's online backup API while the server keeps writing
//! (one step under one read transaction, so it is the store as of one
//! instant, and WAL writers never wait for it), plus two tables of its own:
//! `konnecs_backup_files` (the token master key and every stored object,
//! with their SHA-256) and `konnecs_backup_manifest` (one JSON document:
//! format, version, time, schema version, row counts and the file list).
//! One file to copy off the machine, readable with any SQLite tool, checked
//! end to end on restore. It holds the master key: keep it as private as
//! the data directory (it is written 0600).
//!
//! Restoring needs an empty data directory: it never mixes two stores.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SCHEMA_VERSION;

/// `format` of the manifest, and its version: a restore refuses others.
pub const FORMAT: &str = "konnecs-backup";
pub const FORMAT_VERSION: u32 = 1;
/// File names of scheduled backups: `konnecs-20260302T030000Z.backup`.
const SCHEDULED_PREFIX: &str = "konnecs-";
const SCHEDULED_SUFFIX: &str = ".backup";
/// Archive paths of the files beside the store.
const KEY_FILE: &str = "token-master.key";
const OBJECTS: &str = "objects";

pub use crate::config::DataFiles;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Sqlite { what: String, source: rusqlite::Error },
    #[error("the backup is damaged: {0}")]
    Damaged(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

fn sql(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Sqlite { what, source }
}

/// One file carried beside the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// `token-master.key` or `objects/<key>~object` (relative, `/`-separated).
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub created_at: String,
    pub konnecs_version: String,
    pub schema_version: i64,
    pub items: i64,
    pub queue_messages: i64,
    pub files: Vec<FileEntry>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A new file only its owner can read; fails if `path` exists.
fn create_private(path: &Path) -> Result<File, BackupError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("cannot create {}", path.display())))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("cannot sync {}", dir.display())))
}

/// Every stored object, as (archive path, file): temp files of writes in
/// progress and parts of unfinished uploads are not objects yet.
fn object_files(root: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => continue,
            Err(err) => return Err(io(format!("cannot list {}", dir.display()))(err)),
        };
        for entry in entries {
            let entry = entry.map_err(io(format!("cannot list {}", dir.display())))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry
                .file_type()
                .map_err(io(format!("cannot stat {}", path.display())))?;
            if kind.is_dir() {
                if name != "~uploads" {
                    pending.push(path);
                }
            } else if kind.is_file() && !name.contains("~tmp-") {
                let relative = path
                    .strip_prefix(root)
                    .map_err(|_| BackupError::Refused(format!("{} is outside the objects", path.display())))?;
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push((format!("{OBJECTS}/{}", parts.join("/")), path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A file that may vanish between listing and reading (an object deleted
/// meanwhile): `None` then.
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, BackupError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io(format!("cannot read {}", path.display()))(err)),
    }
}

/// Copies the live store into `dst` in one backup step: one read
/// transaction, so one consistent instant. Retried (bounded) while the
/// store is locked, which under WAL happens only around a checkpoint.
fn copy_store(src: &Connection, dst: &mut Connection) -> Result<(), BackupError> {
    for _ in 0..200 {
        let backup = Backup::new(src, dst).map_err(sql("cannot start the backup"))?;
        match backup.step(-1).map_err(sql("backup step failed"))? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked => {
                drop(backup);
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Err(BackupError::Refused(
        "the store stayed locked for 10 s; try again".into(),
    ))
}

fn count(conn: &Connection, table: &str) -> Result<i64, BackupError> {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
        .map_err(sql(format!("cannot count {table}")))
}

/// Writes a backup of `files` to `out`, which must not exist yet. Safe while
/// the server runs; readable only by its owner. Returns the manifest.
pub fn create(files: &DataFiles, out: &Path, now: Timestamp) -> Result<Manifest, BackupError> {
    if !files.database.is_file() {
        return Err(BackupError::Refused(format!(
            "there is no store at {} to back up",
            files.database.display()
        )));
    }
    if out.exists() {
        return Err(BackupError::Refused(format!("{} already exists", out.display())));
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dir.join(format!(".{name}.partial-{}", uuid::Uuid::new_v4().simple()));
    let result = write_archive(files, &partial, now).and_then(|manifest| {
        // Checked again: the copy took a while. (A rename, not a link, so
        // file systems without hard links, such as a FAT drive, work.)
        if out.exists() {
            return Err(BackupError::Refused(format!("{} already exists", out.display())));
        }
        fs::rename(&partial, out).map_err(io(format!("cannot create {}", out.display())))?;
        sync_dir(dir)?;
        Ok(manifest)
    });
    let _ = fs::remove_file(&partial);
    result
}

fn write_archive(files: &DataFiles, partial: &Path, now: Timestamp) -> Result<Manifest, BackupError> {
    drop(create_private(partial)?);
    let src = Connection::open_with_flags(
        &files.database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql(format!("cannot open {}", files.database.display())))?;
    src.pragma_update(None, "query_only", "ON").map_err(sql("query_only"))?;
    src.busy_timeout(Duration::from_secs(5)).map_err(sql("busy_timeout"))?;
    let mut dst = Connection::open(partial).map_err(sql("cannot open the archive"))?;
    copy_store(&src, &mut dst)?;
    drop(src);

    // The copy carries the store's WAL flag; the archive is one self-contained file.
    let _: String = dst
        .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
        .map_err(sql("journal_mode"))?;
    let schema_version: i64 = dst
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql("user_version"))?;
    let tx = dst.transaction().map_err(sql("archive transaction"))?;
    tx.execute_batch(
        "CREATE TABLE konnecs_backup_files (path TEXT PRIMARY KEY, mode INTEGER NOT NULL, content BLOB NOT NULL, sha256 TEXT NOT NULL);
         CREATE TABLE konnecs_backup_manifest (manifest TEXT NOT NULL);",
    )
    .map_err(sql("archive tables"))?;
    let mut entries = Vec::new();
    let mut carried = vec![(KEY_FILE.to_string(), files.key_file.clone(), true)];
    carried.extend(
        object_files(&files.objects_dir)?
            .into_iter()
            .map(|(p, f)| (p, f, false)),
    );
    for (path, file, required) in carried {
        let Some(bytes) = read_if_present(&file)? else {
            if required {
                return Err(BackupError::Refused(format!("{} is missing", file.display())));
            }
            continue;
        };
        let sha256 = sha256_hex(&bytes);
        tx.execute(
            "INSERT INTO konnecs_backup_files (path, mode, content, sha256) VALUES (?1, ?2, ?3, ?4)",
            params![path, 0o600, bytes, sha256],
        )
        .map_err(sql("archive file"))?;
        entries.push(FileEntry {
            path,
            size: bytes.len() as u64,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        created_at: now.to_string(),
        konnecs_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        items: count(&tx, "items")?,
        queue_messages: count(&tx, "queue_messages")?,
        files: entries,
    };
    let json = serde_json::to_string(&manifest).map_err(|e| BackupError::Damaged(e.to_string()))?;
    tx.execute("INSERT INTO konnecs_backup_manifest (manifest) VALUES (?1)", [json])
        .map_err(sql("archive manifest"))?;
    tx.commit().map_err(sql("archive commit"))?;
    check_integrity(&dst)?;
    dst.close().map_err(|(_, e)| sql("archive close")(e))?;
    File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot sync the archive"))?;
    Ok(manifest)
}

fn check_integrity(conn: &Connection) -> Result<(), BackupError> {
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(sql("integrity_check"))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(BackupError::Damaged(format!("integrity_check: {verdict}")))
    }
}

/// Reads the manifest of an archive (for tests and tools).
pub fn read_manifest(archive: &Path) -> Result<Manifest, BackupError> {
    let conn = Connection::open_with_flags(archive, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sql(format!("cannot open {}", archive.display())))?;
    manifest_of(&conn)
}

fn manifest_of(conn: &Connection) -> Result<Manifest, BackupError> {
    let json: Option<String> = conn
        .query_row("SELECT manifest FROM konnecs_backup_manifest", [], |row| row.get(0))
        .optional()
        .map_err(|_| BackupError::Damaged("this is not a Konnecs backup (no manifest)".into()))?;
    let manifest: Manifest = serde_json::from_str(&json.ok_or(BackupError::Damaged("empty manifest".into()))?)
        .map_err(|e| BackupError::Damaged(format!("manifest: {e}")))?;
    if manifest.format != FORMAT || manifest.version != FORMAT_VERSION {
        return Err(BackupError::Refused(format!(
            "{} version {} is not a backup this build reads ({FORMAT} version {FORMAT_VERSION})",
            manifest.format, manifest.version
        )));
    }
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(BackupError::Refused(format!(
            "the backup's store has schema version {}, newer than this build's {SCHEMA_VERSION}",
            manifest.schema_version
        )));
    }
    Ok(manifest)
}

/// Restores `archive` into `files`' data directory `data_dir`, which must be
/// empty or absent. Everything is verified first (integrity, manifest,
/// checksums, row counts); on any failure the directory is left empty.
pub fn restore(archive: &Path, data_dir: &Path, files: &DataFiles) -> Result<Manifest, BackupError> {
    match fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::Refused(format!(
                    "{} is not empty: restore into an empty data directory (a restore never mixes two stores)",
                    data_dir.display()
                )));
            }
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(io(format!("cannot create {}", data_dir.display())))?;
            fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
                .map_err(io(format!("cannot protect {}", data_dir.display())))?;
        }
        Err(err) => return Err(io(format!("cannot read {}", data_dir.display()))(err)),
    }
    let result = restore_into(archive, files);
    if result.is_err()
        && let Ok(entries) = fs::read_dir(data_dir)
    {
        // The directory was empty: whatever is in it now is ours.
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
    result
}

fn restore_into(archive: &Path, files: &DataFiles) -> Result<Manifest, BackupError> {
    let staged = files.database.with_extension("sqlite3.restoring");
    {
        let mut out = create_private(&staged)?;
        let mut input = File::open(archive).map_err(io(format!("cannot open {}", archive.display())))?;
        std::io::copy(&mut input, &mut out).map_err(io("cannot copy the backup"))?;
        out.sync_all().map_err(io("cannot sync the store"))?;
    }
    let conn = Connection::open_with_flags(&staged, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(sql("cannot open the copied backup"))?;
    check_integrity(&conn)?;
    let manifest = manifest_of(&conn)?;
    if count(&conn, "items")? != manifest.items || count(&conn, "queue_messages")? != manifest.queue_messages {
        return Err(BackupError::Damaged("row counts differ from the manifest".into()));
    }
    let mut written = 0;
    {
        let mut rows = conn
            .prepare("SELECT path, content, sha256 FROM konnecs_backup_files ORDER BY path")
            .map_err(sql("archive files"))?;
        let mut rows = rows.query([]).map_err(sql("archive files"))?;
        while let Some(row) = rows.next().map_err(sql("archive files"))? {
            let path: String = row.get(0).map_err(sql("archive path"))?;
            let content: Vec<u8> = row.get(1).map_err(sql("archive content"))?;
            let sha256: String = row.get(2).map_err(sql("archive checksum"))?;
            let listed = manifest.files.iter().find(|f| f.path == path);
            if sha256_hex(&content) != sha256 || listed.is_none_or(|f| f.sha256 != sha256) {
                return Err(BackupError::Damaged(format!("{path} does not match its checksum")));
            }
            let target = target_of(&path, files)?;
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
            }
            let mut out = create_private(&target)?;
            out.write_all(&content)
                .and_then(|()| out.sync_all())
                .map_err(io(format!("cannot write {}", target.display())))?;
            written += 1;
        }
    }
    if written != manifest.files.len() {
        return Err(BackupError::Damaged("files differ from the manifest".into()));
    }
    conn.execute_batch("DROP TABLE konnecs_backup_files; DROP TABLE konnecs_backup_manifest;")
        .map_err(sql("cannot drop the archive tables"))?;
    conn.execute_batch("VACUUM").map_err(sql("vacuum"))?;
    check_integrity(&conn)?;
    conn.close().map_err(|(_, e)| sql("close")(e))?;
    fs::rename(&staged, &files.database).map_err(io("cannot move the store into place"))?;
    if let Some(dir) = files.database.parent() {
        sync_dir(dir)?;
    }
    Ok(manifest)
}

/// Where an archive path goes; anything but the key and objects is refused,
/// as is any path that would climb out of the objects directory.
fn target_of(path: &str, files: &DataFiles) -> Result<PathBuf, BackupError> {
    if path == KEY_FILE {
        return Ok(files.key_file.clone());
    }
    let rest = path
        .strip_prefix("objects/")
        .ok_or_else(|| BackupError::Damaged(format!("unexpected file {path}")))?;
    let mut target = files.objects_dir.clone();
    for part in rest.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(BackupError::Damaged(format!("unsafe path {path}")));
        }
        target.push(part);
    }
    Ok(target)
}

/// The file name of a scheduled backup taken at `at`.
pub fn scheduled_name(at: Timestamp) -> String {
    format!("{SCHEDULED_PREFIX}{}{SCHEDULED_SUFFIX}", at.strftime("%Y%m%dT%H%M%SZ"))
}

/// When a scheduled backup's file name says it was taken.
fn taken_at(name: &str) -> Option<Timestamp> {
    let stamp = name.strip_prefix(SCHEDULED_PREFIX)?.strip_suffix(SCHEDULED_SUFFIX)?;
    let parsed = jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", stamp).ok()?;
    parsed
        .to_datetime()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// What one scheduled check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The backup taken, if one was due.
    pub created: Option<PathBuf>,
    /// Older backups removed beyond the `keep` newest.
    pub removed: Vec<PathBuf>,
}

/// A backup every `every`: takes one into `dir` when the newest there is
/// that old (or there is none), then keeps the `keep` newest. Only files
/// named like scheduled backups are looked at or removed.
pub fn run_scheduled(
    files: &DataFiles,
    dir: &Path,
    keep: usize,
    every: jiff::SignedDuration,
    now: Timestamp,
) -> Result<ScheduledRun, BackupError> {
    fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let mut existing = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(format!("cannot list {}", dir.display())))? {
        let entry = entry.map_err(io(format!("cannot list {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(at) = taken_at(&name) {
            existing.push((at, entry.path()));
        }
    }
    existing.sort();
    let due = existing
        .last()
        .is_none_or(|(newest, _)| now.duration_since(*newest) >= every);
    let mut created = None;
    if due {
        let path = dir.join(scheduled_name(now));
        create(files, &path, now)?;
        existing.push((now, path.clone()));
        created = Some(path);
    }
    let mut removed = Vec::new();
    let excess = existing.len().saturating_sub(keep.max(1));
    for (_, path) in existing.into_iter().take(excess) {
        fs::remove_file(&path).map_err(io(format!("cannot remove {}", path.display())))?;
        removed.push(path);
    }
    Ok(ScheduledRun { created, removed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_names_round_trip_and_others_are_ignored() {
        let at: Timestamp = "2026-03-02T03:04:05Z".parse().unwrap();
        assert_eq!(scheduled_name(at), "konnecs-20260302T030405Z.backup");
        assert_eq!(taken_at(&scheduled_name(at)), Some(at));
        for other in [
            "notes.txt",
            "konnecs-2026.backup",
            "konnecs-20260302T030405Z.backup.partial",
            ".konnecs-x",
        ] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }

    #[test]
    fn archive_paths_cannot_leave_the_data_directory() {
        let files = DataFiles {
            database: "/d/konnecs.sqlite3".into(),
            key_file: "/d/token-master.key".into(),
            objects_dir: "/d/objects".into(),
        };
        assert_eq!(
            target_of("token-master.key", &files).unwrap(),
            PathBuf::from("/d/token-master.key")
        );
        assert_eq!(
            target_of("objects/photos/u1~object", &files).unwrap(),
            PathBuf::from("/d/objects/photos/u1~object")
        );
        for bad in [
            "objects/../konnecs.sqlite3",
            "objects//x",
            "../x",
            "/etc/passwd",
            "objects/a/./b",
        ] {
            assert!(target_of(bad, &files).is_err(), "{bad}");
        }
    }
}
