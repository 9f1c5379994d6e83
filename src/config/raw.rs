//! The config file as written: serde structs that mirror the TOML one to one.
//!
//! Every table denies unknown keys, so a typo fails at `kisha check`. Values
//! that are validated later (URLs, selectors, durations, addresses) keep their
//! byte span, so an error can name the line they are on.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub state_dir: S<String>,
    pub log_level: Option<S<String>>,
    /// "baseline" (default): a source seen for the first time is recorded and
    /// mailed nothing. "mail": its current items are treated as new.
    pub first_run: Option<S<String>>,
    #[serde(default)]
    pub fetch: RawFetch,
    pub mail: S<RawMail>,
    #[serde(default)]
    pub digest: RawDigest,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default, rename = "source")]
    pub sources: Vec<S<RawSource>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<S<RawRule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    pub concurrency: Option<S<i64>>,
    pub per_host: Option<S<i64>>,
    pub timeout: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub read_timeout: Option<S<String>>,
    pub max_body_bytes: Option<S<i64>>,
    pub max_redirects: Option<S<i64>>,
    pub max_items: Option<S<i64>>,
    pub user_agent: Option<S<String>>,
    pub backoff_cap: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub from: S<String>,
    pub to: S<Vec<S<String>>>,
    pub transport: Option<S<String>>,
    pub subject_prefix: Option<S<String>>,
    pub smtp: Option<S<RawSmtp>>,
    pub file: Option<S<RawFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: S<String>,
    pub port: Option<S<i64>>,
    pub security: Option<S<String>>,
    pub username: Option<S<String>>,
    /// Present only so that an inline password gets a clear refusal.
    pub password: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub password_credential: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub timeout: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub dir: S<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    /// `["07:30", "18:00"]` or one cron expression; checked by the validator.
    pub schedule: Option<S<toml::Value>>,
    pub timezone: Option<S<String>>,
    pub max_entries: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub retention: Option<S<String>>,
    pub cache_mib: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub id: S<String>,
    pub name: Option<S<String>>,
    pub kind: S<String>,
    pub url: S<String>,
    pub interval: Option<S<String>>,
    pub enabled: Option<bool>,
    pub item: Option<S<String>>,
    pub title: Option<S<String>>,
    pub link: Option<S<String>>,
    pub date: Option<S<String>>,
    pub date_heading: Option<S<String>>,
    pub summary: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: S<String>,
    pub preset: Option<S<String>>,
    pub any: Option<S<Vec<S<String>>>>,
    pub all: Option<S<Vec<S<String>>>>,
    pub none: Option<S<Vec<S<String>>>>,
    pub sources: Option<S<Vec<S<String>>>>,
    pub urgent: Option<bool>,
    pub follow: Option<bool>,
}
