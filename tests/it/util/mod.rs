//! The test harness: a real HTTP server, a real SMTP server and the real
//! `kisha` binary, all on 127.0.0.1.

pub mod http;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::Output;

pub use http::{HttpServer, Reply};
pub use smtp as smtp_opts;
pub use smtp::SmtpSink;

pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)).unwrap()
}

pub fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture(path)).unwrap()
}

/// Inserts `insert` right after the first `marker` in `text`.
pub fn insert_after(text: &str, marker: &str, insert: &str) -> String {
    let i = text.find(marker).unwrap_or_else(|| panic!("marker {marker:?} not found")) + marker.len();
    format!("{}{}{}", &text[..i], insert, &text[i..])
}

/// A state directory and a config file written for the test.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// Writes a config with the given `[mail]` settings, `[[source]]`s and
    /// `[[rule]]`s (TOML text).
    pub fn new(extra_top: &str, mail: &str, sources: &str, rules: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("kisha.toml");
        let text = format!(
            "state_dir = \"{}\"\n{extra_top}\n[fetch]\nconcurrency = 8\nper_host = 4\ntimeout = \"10s\"\nread_timeout = \"5s\"\n\n{mail}\n\n{sources}\n\n{rules}\n",
            dir.path().join("state").display()
        );
        std::fs::write(&config, text).unwrap();
        Setup { dir, config }
    }

    /// Sets keys in the config's `[fetch]` table (`key = value` lines).
    pub fn with_fetch(self, lines: &str) -> Setup {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        for line in lines.lines() {
            let key = line.split('=').next().unwrap().trim();
            text =
                text.lines().filter(|l| l.split('=').next().map(str::trim) != Some(key)).collect::<Vec<_>>().join("\n")
                    + "\n";
            text = text.replacen("[fetch]\n", &format!("[fetch]\n{line}\n"), 1);
        }
        std::fs::write(&self.config, text).unwrap();
        self
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

pub fn smtp_mail(port: u16) -> String {
    format!(
        "[mail]\nfrom = \"kisha <kisha@test.invalid>\"\nto = [\"desk@test.invalid\"]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n"
    )
}

pub fn feed_source(id: &str, name: &str, url: &str) -> String {
    format!("[[source]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"feed\"\nurl = \"{url}\"\n\n")
}

pub fn mofa_source(url: &str) -> String {
    format!(
        "[[source]]\nid = \"mofa\"\nname = \"外務省\"\nkind = \"page\"\nurl = \"{url}\"\nitem = \"#pressrelease dd li\"\ntitle = \"a\"\nlink = \"a\"\ndate_heading = \"dt.list-title\"\n\n"
    )
}

pub fn keyword_rule(words: &[&str]) -> String {
    let list: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    format!("[[rule]]\nid = \"words\"\nany = [{}]\n", list.join(", "))
}

/// Runs the real binary.
pub async fn kisha(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .await
        .expect("run kisha")
}

pub async fn once(setup: &Setup) -> Output {
    let out = kisha(&["once", "--config", setup.config.to_str().unwrap()]).await;
    assert!(out.status.success(), "kisha once failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
