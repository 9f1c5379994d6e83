//! `kisha demo`: the whole pipeline, offline, on recorded pages.
//!
//! It serves the recorded Kantei, MOD and MOFA listings (and MLIT's
//! Shift_JIS feed) from `tests/fixtures/captures`, compiled into the binary,
//! on four loopback HTTP servers, one per "site". It writes a real config
//! into a temporary directory and runs two real cycles against them: the
//! first records the baseline and mails nothing; then the seed's three
//! releases of 2018-06-29 appear in the Kantei, MOD and MOFA listings (their
//! pages are served too), and the second cycle fetches, matches, reads the
//! release pages, groups them into one event and writes the digest as an
//! `.eml` file. Nothing but 127.0.0.1 is contacted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::Config;
use crate::cycle::{self, Context, Delivery, Outcome};

const KANTEI_FEED: &[u8] = include_bytes!("../tests/fixtures/captures/kantei.xml");
const MOD_FEED: &[u8] = include_bytes!("../tests/fixtures/captures/mod.xml");
const MOFA_LISTING: &[u8] = include_bytes!("../tests/fixtures/captures/mofa.html");
const MLIT_FEED: &[u8] = include_bytes!("../tests/fixtures/captures/mlit.xml");
const SEED_KANTEI: &[u8] = include_bytes!("../tests/fixtures/releases/seed-kantei-20180629.html");
const SEED_MOD: &[u8] = include_bytes!("../tests/fixtures/releases/seed-mod-20180629.html");
const SEED_MOFA: &[u8] = include_bytes!("../tests/fixtures/releases/seed-mofa-20180629.html");

const KANTEI_PAGE: &str = "/jp/98_abe/actions/201806/29hyoukei.html";
const MOD_PAGE: &str = "/j/approach/exchange/area/2018/20180629_usa-j.html";
const MOFA_PAGE: &str = "/mofaj/na/na1/us/page4_004150.html";

#[derive(Clone)]
struct Resource {
    content_type: &'static str,
    body: Vec<u8>,
}

/// A recorded site: path → resource, with ETags so unchanged pages answer 304.
#[derive(Clone, Default)]
struct Site(Arc<RwLock<HashMap<String, Resource>>>);

impl Site {
    fn put(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(path.into(), Resource { content_type, body });
    }
}

async fn serve_resource(State(site): State<Site>, uri: Uri, headers: HeaderMap) -> Response {
    let resource = site.0.read().unwrap_or_else(|p| p.into_inner()).get(uri.path()).cloned();
    let Some(r) = resource else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("\"{}\"", crate::extract::hex(&Sha256::digest(&r.body)[..8]));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([(header::CONTENT_TYPE, r.content_type.to_owned()), (header::ETAG, etag)], r.body).into_response()
}

/// Starts a site on 127.0.0.1 and returns its base URL.
async fn start(site: Site) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("demo: unable to bind 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(serve_resource).with_state(site);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

fn insert_after(haystack: &[u8], marker: &str, insert: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(haystack);
    match text.find(marker) {
        Some(i) => {
            let at = i + marker.len();
            format!("{}{}{}", &text[..at], insert, &text[at..]).into_bytes()
        }
        None => haystack.to_vec(),
    }
}

fn config_text(dir: &Path, kantei: &str, mod_: &str, mofa: &str, mlit: &str) -> String {
    format!(
        r##"# Written by `kisha demo`: the same shape as config/kisha.toml, pointed at
# recorded copies of the real sites served on 127.0.0.1.
state_dir = "{state}"

[fetch]
concurrency = 8
per_host = 2

[mail]
from = "kisha demo <kisha@demo.invalid>"
to = ["desk@demo.invalid"]
transport = "file"
[mail.file]
dir = "{outbox}"

[[source]]
id = "kantei"
name = "首相官邸"
kind = "feed"
url = "{kantei}/index-jnews.rdf"

[[source]]
id = "mod"
name = "防衛省"
kind = "feed"
url = "{mod_}/j/rss/news.xml"

[[source]]
id = "mofa"
name = "外務省"
kind = "page"
url = "{mofa}/mofaj/press/release/index.html"
item = "#pressrelease dd li"
title = "a"
link = "a"
date_heading = "dt.list-title"

[[source]]
id = "mlit"
name = "国土交通省"
kind = "feed"
url = "{mlit}/pressrelease.rdf"

[[rule]]
id = "defense-meeting"
preset = "jp-defense-meeting"
"##,
        state = dir.join("state").display(),
        outbox = dir.join("outbox").display(),
    )
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::NotModified => "not modified (304)".into(),
        Outcome::Baseline { items } => format!("baseline: {items} items recorded, nothing mailed"),
        Outcome::Polled { items, new, matched } => format!("{items} items, {new} new, {matched} matched"),
        Outcome::Failed { error } => format!("failed: {error}"),
    }
}

fn print_cycle(config: &Config, report: &cycle::CycleReport) {
    for r in &report.sources {
        let name = config.source(&r.id).map_or("", |s| s.name.as_str());
        println!("  {:<7} {:<6} {}", r.id, name, describe(&r.outcome));
    }
}

/// Runs the demo; returns the path of the digest it wrote.
pub async fn run(keep_in: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match keep_in {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("demo: unable to create {}", d.display()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("kisha-demo-")
            .tempdir()
            .context("demo: unable to create a temporary directory")?
            .keep(),
    };
    let (kantei, mod_, mofa, mlit) = (Site::default(), Site::default(), Site::default(), Site::default());
    kantei.put("/index-jnews.rdf", "application/rss+xml", KANTEI_FEED.to_vec());
    mod_.put("/j/rss/news.xml", "application/rss+xml", MOD_FEED.to_vec());
    mofa.put("/mofaj/press/release/index.html", "text/html; charset=UTF-8", MOFA_LISTING.to_vec());
    mlit.put("/pressrelease.rdf", "application/rdf+xml", MLIT_FEED.to_vec());
    let urls = (
        start(kantei.clone()).await?,
        start(mod_.clone()).await?,
        start(mofa.clone()).await?,
        start(mlit.clone()).await?,
    );

    let config_path = dir.join("kisha.toml");
    std::fs::write(&config_path, config_text(&dir, &urls.0, &urls.1, &urls.2, &urls.3))
        .with_context(|| format!("demo: unable to write {}", config_path.display()))?;
    let config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;

    println!("kisha demo: the whole pipeline, offline, on recorded pages");
    println!("  recorded Kantei, MOD, MOFA and MLIT listings served on {}, {}, {}, {}", urls.0, urls.1, urls.2, urls.3);
    println!("  config: {}", config_path.display());
    println!();
    let ctx = Context::open(config.clone(), Clock::system())?;
    let sources: Vec<_> = config.sources.iter().collect();

    println!("cycle 1: the first poll of each source is a baseline");
    let first = cycle::run_cycle(&ctx, &sources, false).await?;
    print_cycle(&config, &first);
    println!("  mail: {}", first.delivery);
    println!();

    println!("The seed's three releases of 2018-06-29 now appear in the Kantei, MOD and MOFA listings.");
    let kantei_item = format!(
        "<item><title>マティス米国防長官による表敬</title><link>{}{KANTEI_PAGE}</link><description/><pubDate>29 Jun 2018 18:00:00 +0900</pubDate><guid isPermaLink=\"false\">item_1</guid><category>首相官邸 総理の一日</category></item>",
        urls.0
    );
    kantei.put("/index-jnews.rdf", "application/rss+xml", insert_after(KANTEI_FEED, "</image>", &kantei_item));
    kantei.put(KANTEI_PAGE, "text/html; charset=UTF-8", SEED_KANTEI.to_vec());
    let mod_item = format!(
        "<item><title>日米防衛相会談</title><link>{MOD_PAGE}</link><guid isPermaLink=\"true\">{MOD_PAGE}</guid><category>取組</category><pubDate>Fri, 29 Jun 2018 17:30:00 +0900</pubDate><description></description><content:encoded></content:encoded></item>\r\n"
    );
    mod_.put("/j/rss/news.xml", "application/rss+xml", insert_after(MOD_FEED, "<!-- ENTRIES -->\r\n", &mod_item));
    mod_.put(MOD_PAGE, "text/html; charset=UTF-8", SEED_MOD.to_vec());
    let mofa_group = format!(
        "\n<dt class=\"list-title\">6月29日付</dt>\n<dd>\n<ul class=\"link-list\">\n<li>\n<a href=\"{MOFA_PAGE}\">河野外務大臣とマティス米国国防長官との会談</a>\n</li>\n</ul>\n</dd>"
    );
    mofa.put(
        "/mofaj/press/release/index.html",
        "text/html; charset=UTF-8",
        insert_after(MOFA_LISTING, "<dl class=\"title-list\">", &mofa_group),
    );
    mofa.put(MOFA_PAGE, "text/html; charset=UTF-8", SEED_MOFA.to_vec());
    println!();

    println!("cycle 2");
    let second = cycle::run_cycle(&ctx, &sources, false).await?;
    print_cycle(&config, &second);
    println!("  mail: {}", second.delivery);
    let Delivery::Sent { text, delivered, .. } = &second.delivery else {
        anyhow::bail!("demo: the second cycle mailed nothing ({})", second.delivery);
    };
    println!();
    println!("{}", "-".repeat(72));
    println!("{}", text.trim_end());
    println!("{}", "-".repeat(72));
    let path = delivered.strip_prefix("written to ").map(PathBuf::from).unwrap_or_default();
    println!();
    println!("The digest as mailed (multipart text + HTML): {}", path.display());
    println!("Try next: kisha status --config {}", config_path.display());
    Ok(path)
}
