//! Configuration: parsed once, validated once, at start-up.
//!
//! [`raw`] mirrors the TOML; [`Config`] is the validated form every stage
//! uses: parsed URLs and mail addresses, compiled CSS selectors, folded
//! keywords, durations. A typo fails here, at `kisha check`, naming the file,
//! the line and the key, not three hours later at the first poll.

mod raw;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use scraper::Selector;
use url::Url;

use raw::{RawConfig, RawRule, RawSource, S};

/// An error in the config, with where it is.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// All the errors found in one config, reported together.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub log_level: Option<String>,
    pub first_run: FirstRun,
    pub fetch: FetchSettings,
    pub mail: MailSettings,
    pub digest: DigestSettings,
    pub store: StoreSettings,
    pub sources: Vec<Source>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRun {
    /// Record what a new source lists, mail nothing.
    Baseline,
    /// Treat what a new source lists as new.
    Mail,
}

#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Sources fetched at once, in all.
    pub concurrency: usize,
    /// Requests at once against one host.
    pub per_host: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    /// Items kept from one fetch of one source; the rest are ignored.
    pub max_items: usize,
    pub user_agent: String,
    /// The longest wait between polls of a failing source.
    pub backoff_cap: Duration,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            concurrency: 32,
            per_host: 4,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            max_items: 1_000,
            user_agent: default_user_agent(),
            backoff_cap: Duration::from_secs(6 * 3600),
        }
    }
}

pub fn default_user_agent() -> String {
    format!("kisha/{} (press-release watcher; +https://github.com/kisha-watch/kisha)", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject_prefix: String,
    pub transport: Transport,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// One `.eml` file per digest in this directory.
    File {
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<PasswordSource>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Where the SMTP password is read from. The password itself is never in the
/// config, and is read only when a transport is built.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
    /// A systemd credential (`LoadCredential=`), read from `$CREDENTIALS_DIRECTORY`.
    Credential(String),
}

#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// When digests go out; `None` mails in every cycle that found matches.
    pub schedule: Option<crate::schedule::DigestSchedule>,
    /// Entries shown in one digest; the rest are summed up in a "+N more" line.
    pub max_entries: usize,
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Seen items that left their listing longer ago than this are pruned;
    /// what a source still lists is kept.
    pub retention: Duration,
    /// sled's page cache (`store.cache_mib`, default 8 MiB). With 10^6 seen
    /// items 32 MiB made a process of 59 MiB, and 127 MiB once pruning had
    /// read every record; 8 MiB: 52 and 68 MiB, for polls about as fast
    /// (benches/store.rs). With 10^5 items both make about 22 MiB.
    pub cache_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub url: Url,
    pub interval: Duration,
    pub enabled: bool,
    pub kind: SourceKind,
}

#[derive(Debug, Clone)]
pub enum SourceKind {
    /// RSS 2.0, RSS 1.0/RDF or Atom; the format is detected.
    Feed,
    /// An HTML listing turned into items by CSS selectors.
    Page(PageSelectors),
}

/// A compiled selector with the text it was written as. Shared: the sources
/// of one site repeat the same selectors, and each is compiled once.
#[derive(Debug, Clone)]
pub struct Css {
    pub text: Arc<str>,
    pub selector: Arc<Selector>,
}

#[derive(Debug, Clone)]
pub struct PageSelectors {
    /// One element per item.
    pub item: Css,
    /// Inside the item: its text is the title.
    pub title: Css,
    /// Inside the item: its `href` is the link.
    pub link: Css,
    /// Inside the item: where its date is written.
    pub date: Option<Css>,
    /// Before the item in the document: the nearest heading holding the date
    /// of the group the item belongs to (MOFA's `dt.list-title`).
    pub date_heading: Option<Css>,
    /// Inside the item: a summary.
    pub summary: Option<Css>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    /// Words that veto a match, folded like `any`.
    pub none: Vec<String>,
    /// Limit the rule to these source ids; empty means every source.
    pub sources: Vec<String>,
    /// Mail at once, ignoring the digest schedule.
    pub urgent: bool,
    /// Fetch the release page of a match for its text and facts.
    pub follow: bool,
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    /// Words, NFKC-folded and lower case, matched against title and summary.
    Keywords { any: Vec<String>, all: Vec<String> },
    /// A built-in detector.
    Preset(Preset),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Defense ministers' meetings announced by Kantei, MOD and MOFA.
    JpDefenseMeeting,
}

impl Rule {
    /// Whether the rule judges items of `source_id` (no `sources` means all).
    pub fn applies_to(&self, source_id: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == source_id)
    }
}

impl Preset {
    pub const ALL: [(&'static str, Preset); 1] = [("jp-defense-meeting", Preset::JpDefenseMeeting)];

    pub fn name(self) -> &'static str {
        match self {
            Preset::JpDefenseMeeting => "jp-defense-meeting",
        }
    }
}

impl Config {
    /// Reads, parses and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let err = |message: String| {
            ConfigErrors(vec![ConfigError { file: path.into(), line: None, key: String::new(), message }])
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("unable to read config: {e}")))?;
        check_permissions(path).map_err(err)?;
        Config::parse(path, &text)
    }

    /// Parses and validates config text; `path` is used in errors and to
    /// resolve relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.into(),
                line: e.span().map(|s| line_of(text, s.start)),
                key: String::new(),
                message: e.message().trim().to_owned(),
            }])
        })?;
        let mut v = Validator { path, text, errors: Vec::new(), selectors: HashMap::new() };
        let config = v.config(raw);
        if v.errors.is_empty() {
            Ok(config.expect("no errors means a config was built"))
        } else {
            Err(ConfigErrors(v.errors))
        }
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// Refuses a config file that anyone could rewrite.
#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| format!("unable to stat config: {e}"))?.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(format!(
            "refusing a world-writable config file (mode {:o}): anyone could redirect the mail; run chmod o-w",
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path) -> Result<(), String> {
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<ConfigError>,
    /// The selectors compiled so far, by their text.
    selectors: HashMap<String, Css>,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.path.into(),
            line: Some(line_of(self.text, span.start)),
            key: key.into(),
            message: message.into(),
        });
    }

    fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() { p.into() } else { self.path.parent().unwrap_or(Path::new(".")).join(p) }
    }

    fn duration(&mut self, v: &Option<S<String>>, key: &str, default: Duration, min: Duration) -> Duration {
        let Some(v) = v else { return default };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if d >= min => d,
            Ok(_) => {
                self.error(
                    v.span(),
                    key,
                    format!("`{}` is too short: the least allowed is {}", v.get_ref(), humantime::format_duration(min)),
                );
                default
            }
            Err(e) => {
                self.error(
                    v.span(),
                    key,
                    format!("invalid duration `{}`: {e} (write e.g. \"90s\", \"10m\", \"1h 30m\")", v.get_ref()),
                );
                default
            }
        }
    }

    fn int(&mut self, v: &Option<S<i64>>, key: &str, default: u64, range: Range<i64>) -> u64 {
        let Some(v) = v else { return default };
        let n = *v.get_ref();
        if range.contains(&n) {
            n as u64
        } else {
            self.error(v.span(), key, format!("{n} is out of range: allowed {}..={}", range.start, range.end - 1));
            default
        }
    }

    fn mailbox(&mut self, v: &S<String>, key: &str) -> Option<Mailbox> {
        match v.get_ref().parse::<Mailbox>() {
            Ok(m) => Some(m),
            Err(e) => {
                self.error(v.span(), key, format!("invalid address `{}`: {e}", v.get_ref()));
                None
            }
        }
    }

    fn css(&mut self, v: &Option<S<String>>, key: &str, default: Option<&str>) -> Option<Css> {
        let (text, span) = match v {
            Some(v) => (v.get_ref().clone(), v.span()),
            None => (default?.to_owned(), 0..0),
        };
        if let Some(css) = self.selectors.get(&text) {
            return Some(css.clone());
        }
        match Selector::parse(&text) {
            Ok(selector) => {
                let css = Css { text: text.as_str().into(), selector: Arc::new(selector) };
                self.selectors.insert(text, css.clone());
                Some(css)
            }
            Err(e) => {
                self.error(span, key, format!("invalid CSS selector `{text}`: {}", selector_error(&e)));
                None
            }
        }
    }

    fn config(&mut self, raw: RawConfig) -> Option<Config> {
        let state_dir = raw.state_dir.get_ref().trim();
        if state_dir.is_empty() {
            self.error(raw.state_dir.span(), "state_dir", "must not be empty");
        }
        let state_dir = self.resolve_path(state_dir);

        let log_level = raw.log_level.as_ref().map(|l| l.get_ref().clone());
        if let Some(l) = &raw.log_level
            && tracing_subscriber::EnvFilter::try_new(l.get_ref()).is_err()
        {
            self.error(
                l.span(),
                "log_level",
                format!("invalid level `{}`: use error, warn, info, debug or trace", l.get_ref()),
            );
        }

        let first_run = match raw.first_run.as_ref().map(|f| (f.get_ref().as_str(), f.span())) {
            None | Some(("baseline", _)) => FirstRun::Baseline,
            Some(("mail", _)) => FirstRun::Mail,
            Some((other, span)) => {
                self.error(span, "first_run", format!("unknown value `{other}`: use \"baseline\" or \"mail\""));
                FirstRun::Baseline
            }
        };

        let fetch = self.fetch(&raw.fetch);
        let mail = self.mail(raw.mail, &state_dir);
        let digest = self.digest(&raw.digest);
        let store = StoreSettings {
            retention: self.duration(
                &raw.store.retention,
                "store.retention",
                Duration::from_secs(400 * 86_400),
                Duration::from_secs(86_400),
            ),
            cache_bytes: self.int(&raw.store.cache_mib, "store.cache_mib", 8, 1..4097) * 1024 * 1024,
        };

        let mut sources = Vec::new();
        let mut ids = HashSet::new();
        if raw.sources.is_empty() {
            self.errors.push(ConfigError {
                file: self.path.into(),
                line: None,
                key: "source".into(),
                message: "no [[source]] defined: kisha has nothing to watch".into(),
            });
        }
        for s in raw.sources {
            let span = s.span();
            if let Some(source) = self.source(s.into_inner(), span.clone()) {
                if !ids.insert(source.id.clone()) {
                    self.error(span, format!("source `{}`", source.id), "duplicate source id");
                }
                sources.push(source);
            }
        }

        let mut rules = Vec::new();
        let mut rule_ids = HashSet::new();
        for r in raw.rules {
            let span = r.span();
            if let Some(rule) = self.rule(r.into_inner(), &ids) {
                if !rule_ids.insert(rule.id.clone()) {
                    self.error(span, format!("rule `{}`", rule.id), "duplicate rule id");
                }
                rules.push(rule);
            }
        }

        Some(Config {
            path: self.path.into(),
            state_dir,
            log_level,
            first_run,
            fetch,
            mail: mail?,
            digest,
            store,
            sources,
            rules,
        })
    }

    fn fetch(&mut self, f: &raw::RawFetch) -> FetchSettings {
        let d = FetchSettings::default();
        FetchSettings {
            concurrency: self.int(&f.concurrency, "fetch.concurrency", d.concurrency as u64, 1..4097) as usize,
            per_host: self.int(&f.per_host, "fetch.per_host", d.per_host as u64, 1..1025) as usize,
            timeout: self.duration(&f.timeout, "fetch.timeout", d.timeout, Duration::from_secs(1)),
            connect_timeout: self.duration(
                &f.connect_timeout,
                "fetch.connect_timeout",
                d.connect_timeout,
                Duration::from_millis(100),
            ),
            read_timeout: self.duration(
                &f.read_timeout,
                "fetch.read_timeout",
                d.read_timeout,
                Duration::from_millis(100),
            ),
            max_body_bytes: self.int(&f.max_body_bytes, "fetch.max_body_bytes", d.max_body_bytes, 1024..(1 << 31)),
            max_redirects: self.int(&f.max_redirects, "fetch.max_redirects", d.max_redirects as u64, 0..21) as usize,
            max_items: self.int(&f.max_items, "fetch.max_items", d.max_items as u64, 1..100_001) as usize,
            user_agent: match &f.user_agent {
                Some(ua) if ua.get_ref().trim().is_empty() || ua.get_ref().contains(['\r', '\n']) => {
                    self.error(ua.span(), "fetch.user_agent", "must be one non-empty line");
                    d.user_agent
                }
                Some(ua) => ua.get_ref().clone(),
                None => d.user_agent,
            },
            backoff_cap: self.duration(&f.backoff_cap, "fetch.backoff_cap", d.backoff_cap, Duration::from_secs(60)),
        }
    }

    fn mail(&mut self, m: S<raw::RawMail>, state_dir: &Path) -> Option<MailSettings> {
        let span = m.span();
        let m = m.into_inner();
        let from = self.mailbox(&m.from, "mail.from");
        let mut to = Vec::new();
        if m.to.get_ref().is_empty() {
            self.error(m.to.span(), "mail.to", "needs at least one address");
        }
        for t in m.to.get_ref() {
            to.extend(self.mailbox(t, "mail.to"));
        }
        let kind = m.transport.as_ref().map(|t| (t.get_ref().as_str(), t.span()));
        let kind = match kind {
            Some(("smtp", _)) => "smtp",
            Some(("file", _)) => "file",
            None if m.smtp.is_some() => "smtp",
            None => "file",
            Some((other, span)) => {
                self.error(span, "mail.transport", format!("unknown transport `{other}`: use \"smtp\" or \"file\""));
                "file"
            }
        };
        let transport = if kind == "smtp" {
            let Some(smtp) = m.smtp else {
                self.error(span, "mail.smtp", "transport \"smtp\" needs a [mail.smtp] table with at least `host`");
                return None;
            };
            Transport::Smtp(self.smtp(smtp.into_inner())?)
        } else {
            let dir = match &m.file {
                Some(f) => self.resolve_path(f.get_ref().dir.get_ref()),
                None => state_dir.join("outbox"),
            };
            Transport::File { dir }
        };
        let subject_prefix = match &m.subject_prefix {
            Some(p) if p.get_ref().contains(['\r', '\n']) => {
                self.error(p.span(), "mail.subject_prefix", "must be one line");
                String::new()
            }
            Some(p) => p.get_ref().clone(),
            None => "[kisha]".into(),
        };
        Some(MailSettings { from: from?, to, subject_prefix, transport })
    }

    fn smtp(&mut self, s: raw::RawSmtp) -> Option<SmtpSettings> {
        if let Some(p) = &s.password {
            self.error(
                p.span(),
                "mail.smtp.password",
                "a password is never kept in the config file: use password_env, password_file or password_credential",
            );
        }
        let security = match s.security.as_ref().map(|v| (v.get_ref().as_str(), v.span())) {
            None | Some(("none", _)) => Security::None,
            Some(("starttls", _)) => Security::StartTls,
            Some(("tls", _)) => Security::Tls,
            Some((other, span)) => {
                self.error(
                    span,
                    "mail.smtp.security",
                    format!("unknown value `{other}`: use \"none\", \"starttls\" or \"tls\""),
                );
                Security::None
            }
        };
        let default_port = match security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        };
        let port = self.int(&s.port, "mail.smtp.port", default_port, 1..65536) as u16;
        let host = s.host.get_ref().trim().to_owned();
        if host.is_empty() {
            self.error(s.host.span(), "mail.smtp.host", "must not be empty");
        }
        let sources: Vec<_> = [
            s.password_env.as_ref().map(|v| ("password_env", v)),
            s.password_file.as_ref().map(|v| ("password_file", v)),
            s.password_credential.as_ref().map(|v| ("password_credential", v)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if sources.len() > 1 {
            self.error(
                sources[1].1.span(),
                format!("mail.smtp.{}", sources[1].0),
                format!("conflicts with mail.smtp.{}: give one password source", sources[0].0),
            );
        }
        let password = sources.first().map(|(key, v)| match *key {
            "password_env" => PasswordSource::Env(v.get_ref().clone()),
            "password_file" => PasswordSource::File(self.resolve_path(v.get_ref())),
            _ => PasswordSource::Credential(v.get_ref().clone()),
        });
        let username = s.username.as_ref().map(|u| u.get_ref().clone());
        match (&username, &password, &s.username) {
            (Some(_), None, Some(u)) => self.error(
                u.span(),
                "mail.smtp.username",
                "needs a password source: password_env, password_file or password_credential",
            ),
            (None, Some(_), _) => {
                self.error(sources[0].1.span(), format!("mail.smtp.{}", sources[0].0), "needs mail.smtp.username")
            }
            _ => {}
        }
        if let Some(PasswordSource::File(p)) = &password {
            check_secret_file(p)
                .err()
                .into_iter()
                .for_each(|e| self.error(sources[0].1.span(), "mail.smtp.password_file", e));
        }
        let ca_file = s.ca_file.as_ref().map(|c| self.resolve_path(c.get_ref()));
        let timeout = self.duration(&s.timeout, "mail.smtp.timeout", Duration::from_secs(60), Duration::from_secs(1));
        Some(SmtpSettings { host, port, security, username, password, ca_file, timeout })
    }

    fn digest(&mut self, d: &raw::RawDigest) -> DigestSettings {
        let timezone = match &d.timezone {
            None => Ok(crate::schedule::Zone::tokyo()),
            Some(tz) => crate::schedule::Zone::parse(tz.get_ref()).map_err(|e| (tz.span(), e)),
        };
        let timezone = match timezone {
            Ok(z) => z,
            Err((span, e)) => {
                self.error(span, "digest.timezone", e);
                crate::schedule::Zone::tokyo()
            }
        };
        let schedule = match &d.schedule {
            None => None,
            Some(s) => {
                let result = match s.get_ref() {
                    toml::Value::Array(items) => {
                        let times: Option<Vec<String>> = items.iter().map(|t| t.as_str().map(str::to_owned)).collect();
                        match times {
                            Some(times) => crate::schedule::DigestSchedule::times(&times, timezone),
                            None => Err("write the times as strings, e.g. [\"07:30\", \"18:00\"]".into()),
                        }
                    }
                    toml::Value::String(expr) => crate::schedule::DigestSchedule::cron(expr, timezone),
                    other => Err(format!(
                        "expected a list of \"HH:MM\" times or a cron expression string, found {}",
                        other.type_str()
                    )),
                };
                match result {
                    Ok(s) => Some(s),
                    Err(e) => {
                        self.error(s.span(), "digest.schedule", e);
                        None
                    }
                }
            }
        };
        DigestSettings { schedule, max_entries: self.int(&d.max_entries, "digest.max_entries", 50, 1..10_001) as usize }
    }

    fn source(&mut self, s: RawSource, span: Range<usize>) -> Option<Source> {
        let id = s.id.get_ref().trim().to_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            self.error(s.id.span(), "source.id", format!("invalid id `{id}`: use letters, digits, '.', '_' and '-'"));
        }
        let key = |k: &str| format!("source `{id}`: {k}");
        let url = match Url::parse(s.url.get_ref().trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(u) => {
                self.error(s.url.span(), key("url"), format!("`{u}` is not an http(s) URL"));
                None
            }
            Err(e) => {
                self.error(s.url.span(), key("url"), format!("invalid URL `{}`: {e}", s.url.get_ref()));
                None
            }
        };
        let interval = self.duration(&s.interval, &key("interval"), Duration::from_secs(600), Duration::from_secs(10));
        let page_keys = [
            ("item", &s.item),
            ("title", &s.title),
            ("link", &s.link),
            ("date", &s.date),
            ("date_heading", &s.date_heading),
            ("summary", &s.summary),
        ];
        let kind = match s.kind.get_ref().as_str() {
            "feed" => {
                for (k, v) in page_keys {
                    if let Some(v) = v {
                        self.error(
                            v.span(),
                            key(k),
                            "applies only to kind = \"page\"; a feed's items come from the feed itself",
                        );
                    }
                }
                Some(SourceKind::Feed)
            }
            "page" => {
                if s.item.is_none() {
                    self.error(
                        span.clone(),
                        key("item"),
                        "kind = \"page\" needs `item`, a CSS selector matching one element per item",
                    );
                }
                let item = self.css(&s.item, &key("item"), None);
                let title = self.css(&s.title, &key("title"), Some("a"));
                let link = self.css(&s.link, &key("link"), Some("a"));
                let date = self.css(&s.date, &key("date"), None);
                let date_heading = self.css(&s.date_heading, &key("date_heading"), None);
                let summary = self.css(&s.summary, &key("summary"), None);
                match (item, title, link) {
                    (Some(item), Some(title), Some(link)) => {
                        Some(SourceKind::Page(PageSelectors { item, title, link, date, date_heading, summary }))
                    }
                    _ => None,
                }
            }
            other => {
                self.error(s.kind.span(), key("kind"), format!("unknown kind `{other}`: use \"feed\" or \"page\""));
                None
            }
        };
        let name = s.name.as_ref().map_or_else(|| id.clone(), |n| crate::text::one_line(n.get_ref(), 100));
        Some(Source { id, name, url: url?, interval, enabled: s.enabled.unwrap_or(true), kind: kind? })
    }

    fn words(&mut self, v: &Option<S<Vec<S<String>>>>, key: &str) -> Vec<String> {
        let Some(v) = v else { return Vec::new() };
        let mut out = Vec::new();
        for w in v.get_ref() {
            let folded = crate::text::fold(w.get_ref().trim());
            if folded.is_empty() {
                self.error(w.span(), key, "empty word: it would match everything");
            } else {
                out.push(folded);
            }
        }
        out
    }

    fn rule(&mut self, r: RawRule, source_ids: &HashSet<String>) -> Option<Rule> {
        let id = r.id.get_ref().trim().to_owned();
        if id.is_empty() {
            self.error(r.id.span(), "rule.id", "must not be empty");
        }
        let key = |k: &str| format!("rule `{id}`: {k}");
        let any = self.words(&r.any, &key("any"));
        let all = self.words(&r.all, &key("all"));
        let none = self.words(&r.none, &key("none"));
        let mut sources = Vec::new();
        if let Some(list) = &r.sources {
            for s in list.get_ref() {
                if source_ids.contains(s.get_ref()) {
                    sources.push(s.get_ref().clone());
                } else {
                    self.error(s.span(), key("sources"), format!("no source has the id `{}`", s.get_ref()));
                }
            }
        }
        let kind = match &r.preset {
            Some(p) => {
                if r.any.is_some() || r.all.is_some() {
                    self.error(
                        p.span(),
                        key("preset"),
                        "a preset rule takes no `any` or `all` words (`none` may still exclude)",
                    );
                }
                match Preset::ALL.iter().find(|(name, _)| name == p.get_ref()) {
                    Some((_, preset)) => RuleKind::Preset(*preset),
                    None => {
                        let known: Vec<_> = Preset::ALL.iter().map(|(n, _)| *n).collect();
                        self.error(
                            p.span(),
                            key("preset"),
                            format!("unknown preset `{}`: known presets are {}", p.get_ref(), known.join(", ")),
                        );
                        return None;
                    }
                }
            }
            None => {
                if any.is_empty() && all.is_empty() {
                    self.error(r.id.span(), key("any"), "a rule needs `any` or `all` words, or a `preset`");
                }
                RuleKind::Keywords { any, all }
            }
        };
        let follow = r.follow.unwrap_or(matches!(kind, RuleKind::Preset(_)));
        Some(Rule { id, kind, none, sources, urgent: r.urgent.unwrap_or(false), follow })
    }
}

/// A selector error in one line. scraper's Display of some errors is an
/// internal "please report" text; the kind's name says more.
fn selector_error(e: &scraper::error::SelectorErrorKind) -> String {
    let text = e.to_string();
    if text.contains("Please report") {
        // "UnexpectedSelectorParseError(DanglingCombinator)": the innermost name.
        let kind = format!("{e:?}");
        let name = kind.trim_end_matches(')').rsplit('(').next().unwrap_or(&kind);
        let name = name.split([' ', '{', ',']).next().unwrap_or(name);
        // "DanglingCombinator" → "dangling combinator"
        let mut words = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                words.push(' ');
            }
            words.extend(c.to_lowercase());
        }
        words
    } else {
        crate::text::one_line(&text, 200)
    }
}

/// Refuses a password file that others can read.
#[cfg(unix)]
fn check_secret_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o004 != 0 => {
            Err(format!("refusing the world-readable password file {}: run chmod o-r", path.display()))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!("unable to read {}: {e}", path.display())),
    }
}

#[cfg(not(unix))]
fn check_secret_file(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(id: &str, item: &str) -> String {
        format!(
            "[[source]]\nid = \"{id}\"\nkind = \"page\"\nurl = \"https://www.mofa.go.jp/{id}.html\"\nitem = \"{item}\"\ntitle = \"a\"\nlink = \"a\"\n\n"
        )
    }

    const HEAD: &str = "state_dir = \"/tmp/kisha-config-test\"\n[mail]\nfrom = \"k@example.jp\"\nto = [\"r@example.jp\"]\ntransport = \"file\"\n\n";

    #[test]
    fn sources_share_a_selector_written_the_same_and_each_bad_one_is_reported() {
        let text = format!("{HEAD}{}{}{}", page("a", "ul > li"), page("b", "ul > li"), page("c", "dl > dd"));
        let config = Config::parse(Path::new("k.toml"), &text).unwrap();
        let items: Vec<&Css> = config
            .sources
            .iter()
            .map(|s| match &s.kind {
                SourceKind::Page(sel) => &sel.item,
                SourceKind::Feed => panic!("{} is a page", s.id),
            })
            .collect();
        assert!(Arc::ptr_eq(&items[0].selector, &items[1].selector), "compiled once");
        assert!(!Arc::ptr_eq(&items[0].selector, &items[2].selector));
        assert_eq!(&*items[2].text, "dl > dd");

        let text = format!("{HEAD}{}{}", page("a", "ul >"), page("b", "ul >"));
        let errors = Config::parse(Path::new("k.toml"), &text).unwrap_err().to_string();
        assert_eq!(errors.matches("invalid CSS selector `ul >`").count(), 2, "{errors}");
    }
}
