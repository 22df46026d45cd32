//! A real SMTP server on loopback (`support/smtp/server.py`, aiosmtpd from
//! the project venv) and what it received.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How the server protects its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    StartTls,
    ImplicitTls,
    Plain,
}

/// The test CA that signed the server's certificate (127.0.0.1, localhost).
pub fn ca_pem() -> Vec<u8> {
    std::fs::read(support_dir().join("ca.pem")).expect("test CA")
}

fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("support").join("smtp")
}

/// The project venv: `KONNECS_VENV` (set by tests/run), else `.venv`.
fn python() -> PathBuf {
    let venv = std::env::var_os("KONNECS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(".venv"));
    let python = venv.join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing: run `bash infra/test-tools.sh` (tests/run does)",
        python.display()
    );
    python
}

/// The server process; killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    out: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server and waits (bounded) until it listens. With
    /// `login`, AUTH is required with that user and password.
    pub fn start(mode: Mode, login: Option<(&str, &str)>) -> Self {
        let out = tempfile::tempdir().expect("temp dir");
        let mode_arg = match mode {
            Mode::StartTls => "starttls",
            Mode::ImplicitTls => "tls",
            Mode::Plain => "plain",
        };
        let mut command = Command::new(python());
        command
            .arg(support_dir().join("server.py"))
            .args(["--mode", mode_arg, "--out"])
            .arg(out.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((user, password)) = login {
            command.args(["--user", user, "--password", password]);
        }
        let mut child = command.spawn().expect("spawn the SMTP server");
        let stdout = child.stdout.take().expect("stdout");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("listening ")
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the SMTP server listened within 30 s");
        Self { child, port, out }
    }

    /// Every message accepted so far, oldest first. The server writes each
    /// before it answers 250, so a send that returned has its file.
    pub fn received(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.out.path())
            .expect("out dir")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| serde_json::from_slice(&std::fs::read(path).expect("message file")).expect("message json"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
