//! The Fetcher: one polite HTTP GET per source poll.
//!
//! It owns HTTP and nothing else. It sends the stored `ETag` and
//! `Last-Modified` back (a `304` comes out as [`Fetched::NotModified`] and
//! costs no parsing), identifies itself with a real User-Agent, bounds every
//! request (connect, read and total timeouts, redirects and only to http(s),
//! body size, counted after decompression so a gzip bomb stops at the cap),
//! and keeps at most `per_host` requests in flight against one host. It
//! hands on raw bytes; [`decode`] turns a page's bytes into text.

pub mod decode;
mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::FetchSettings;

/// The validators a server gave with the last full answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// What one GET gave.
#[derive(Debug)]
pub enum Fetched {
    /// `304`: nothing changed since the validators were stored.
    NotModified,
    Body(Body),
}

/// A full answer.
#[derive(Debug, Clone)]
pub struct Body {
    /// The URL after redirects; relative links resolve against it.
    pub url: Url,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
}

/// Why a GET failed. The caller decides whether and when to retry.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("server answered HTTP {status}{}", retry_after.map(|d| format!(" (Retry-After {}s)", d.as_secs())).unwrap_or_default())]
    Status { status: u16, retry_after: Option<Duration> },
    #[error("body larger than the cap of {limit} bytes (fetch.max_body_bytes)")]
    TooLarge { limit: u64 },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("redirect refused: {0}")]
    Redirect(String),
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    /// How long the server asked us to wait (`429`/`503` with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn from_reqwest(e: reqwest::Error) -> FetchError {
        let chain = error_chain(&e);
        if e.is_timeout() || chain.contains("timed out") || chain.contains("deadline has elapsed") {
            FetchError::Timeout(chain)
        } else if e.is_redirect() {
            FetchError::Redirect(chain)
        } else {
            FetchError::Network(chain)
        }
    }
}

/// "a: b: c" from an error and its sources, without repeating a source that
/// its parent already printed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Installs the process-wide TLS crypto provider (ring) once.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How much of a redirect's target an error shows: it goes to the log, the
/// status and the digest's footer.
const MAX_SHOWN_LOCATION: usize = 200;

/// The longest `Retry-After` honoured; a server asking for more is polled
/// again after this anyway.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default()
        }
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: u64,
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> anyhow::Result<Fetcher> {
        install_crypto_provider();
        let max_redirects = settings.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                attempt.error(format!("more than {max_redirects} redirects (fetch.max_redirects)"))
            } else if !matches!(attempt.url().scheme(), "http" | "https") {
                let target = crate::text::one_line(attempt.url().as_str(), MAX_SHOWN_LOCATION);
                attempt.error(format!("redirect to a non-http URL: {target}"))
            } else {
                attempt.follow()
            }
        });
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("fetch: no TLS crypto provider is installed"))?;
        let tls = tls::client_config(provider).map_err(|e| anyhow::anyhow!("fetch: unable to set up TLS: {e}"))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .timeout(settings.timeout)
            .redirect(policy)
            // A failed poll is retried by the schedule, with backoff. reqwest's
            // own retry covers HTTP/2 and HTTP/3 refusals, which a client built
            // without them never sees, yet it copied every request in case.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(settings.per_host)
            .build()
            .map_err(|e| anyhow::anyhow!("fetch: unable to build the HTTP client: {}", error_chain(&e)))?;
        Ok(Fetcher { client, max_body: settings.max_body_bytes, per_host: settings.per_host, hosts: Arc::default() })
    }

    fn host_permits(&self, url: &Url) -> Arc<Semaphore> {
        let key = format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0));
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
    }

    /// GETs `url`, conditionally if `validators` hold anything.
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let permits = self.host_permits(url);
        let _permit = permits.acquire().await.map_err(|_| FetchError::Network("fetcher closed".into()))?;
        let mut request = self.client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/rdf+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.9, */*;q=0.8",
        );
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = request.send().await.map_err(FetchError::from_reqwest)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status.is_redirection()
            && let Some(location) = response.headers().get(header::LOCATION)
        {
            // reqwest hands back a redirect it could not follow: a Location
            // that is no URL, or one of a scheme it does not speak (`file:`).
            let location = crate::text::one_line(&String::from_utf8_lossy(location.as_bytes()), MAX_SHOWN_LOCATION);
            return Err(FetchError::Redirect(format!(
                "HTTP {} to {location:?} not followed: not an http(s) URL",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: parse_retry_after(response.headers()),
            });
        }
        let header_text =
            |name| response.headers().get(name).and_then(|v: &header::HeaderValue| v.to_str().ok()).map(str::to_owned);
        let validators =
            Validators { etag: header_text(header::ETAG), last_modified: header_text(header::LAST_MODIFIED) };
        let content_type = header_text(header::CONTENT_TYPE);
        let final_url = response.url().clone();
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(FetchError::TooLarge { limit: self.max_body });
        }
        // Grown as chunks come, not reserved from the Content-Length: with
        // 192 polls in flight, buffers reserved at the headers raised a cold
        // cycle's peak by 1.1 to 1.4 MiB in interleaved runs (README,
        // Performance).
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::from_reqwest)? {
            if (bytes.len() + chunk.len()) as u64 > self.max_body {
                return Err(FetchError::TooLarge { limit: self.max_body });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Body { url: final_url, bytes, content_type, validators }))
    }
}
