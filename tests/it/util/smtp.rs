//! A real SMTP server for the tests: `tests/smtp_sink.py` (aiosmtpd) in the
//! venv that `scripts/test` makes. Tests read what it received, decoded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

/// One message the server accepted, as Python's `email` module decoded it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: String,
    pub references: String,
    pub from: String,
    pub to: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
    pub raw_header_lines: Vec<String>,
    #[serde(default)]
    pub envelope_to: Vec<String>,
}

pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
    _tmp: tempfile::TempDir,
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KISHA_TEST_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(venv.exists(), "no Python with aiosmtpd: run the tests with scripts/test, which installs it into .venv");
    venv
}

#[derive(Default)]
pub struct Options {
    pub tls: Option<&'static str>,
    pub auth: Option<&'static str>,
    pub port: Option<u16>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> SmtpSink {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut cmd = Command::new(python());
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py")).arg("--out").arg(&dir);
        if let Some(tls) = opts.tls {
            cmd.args(["--tls", tls]);
        }
        if let Some(auth) = opts.auth {
            cmd.args(["--auth", auth]);
        }
        if let Some(port) = opts.port {
            cmd.args(["--port", &port.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp_sink.py");
        // Bounded wait for the port file (10 s).
        for _ in 0..200 {
            if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
                return SmtpSink { port: p.trim().parse().unwrap(), dir, child, _tmp: tmp };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("smtp_sink.py did not start within 10 s");
    }

    /// The files the server wrote with this extension, in arrival order.
    fn files(&self, ext: &str) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        files
    }

    /// Switches behaviour: "accept", "tempfail", "reject" or "stall".
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    pub fn messages(&self) -> Vec<Mail> {
        let files = self.files("json");
        files
            .iter()
            .map(|p| {
                let mut m: Mail = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                m.text = m.text.replace("\r\n", "\n");
                m.html = m.html.replace("\r\n", "\n");
                m
            })
            .collect()
    }

    /// Messages received in "stall" mode, which the server never answered.
    pub fn stalled(&self) -> Vec<Mail> {
        let files = self.files("stalled");
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    pub fn raw_messages(&self) -> Vec<Vec<u8>> {
        let files = self.files("eml");
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
