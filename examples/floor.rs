//! The floor under a cold cycle: what the required crates cost on their own.
//!
//!     cargo build --release --example floor
//!     target/release/examples/floor fetch|parse SOURCES [CONCURRENCY]
//!
//! SOURCES has one source a line, `feed URL` or `page URL` (scripts/bench-cycle
//! writes it with `--floor`). Every URL is fetched once, CONCURRENCY at a time
//! (192 by default), with reqwest on a current-thread tokio runtime, as `kisha
//! once` does. `fetch` only reads the bodies; `parse` also parses each feed
//! with feed-rs (no id generator, RFC 2822 and RFC 3339 dates) and each page
//! with scraper (UTF-8, else Shift_JIS) and counts its `<li>` elements. None
//! of kisha runs: no config, no store, no extraction. kisha's cold cycle
//! costs what this costs plus what kisha adds (README, Performance).

use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::sync::Semaphore;

enum Kind {
    Feed,
    Page,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (parse, path, concurrency) = match args.as_slice() {
        [mode, path, rest @ ..] if rest.len() <= 1 && matches!(mode.as_str(), "fetch" | "parse") => {
            let concurrency = match rest.first() {
                Some(c) => c.parse().with_context(|| format!("CONCURRENCY {c:?} is not a number"))?,
                None => 192,
            };
            (mode == "parse", path, concurrency)
        }
        _ => bail!("usage: floor fetch|parse SOURCES [CONCURRENCY]"),
    };
    let list = std::fs::read_to_string(path).with_context(|| format!("unable to read {path}"))?;
    let mut sources = Vec::new();
    for (n, line) in list.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let source = match line.split_once(' ') {
            Some(("feed", url)) => (Kind::Feed, url.trim().to_owned()),
            Some(("page", url)) => (Kind::Page, url.trim().to_owned()),
            _ => bail!("{path}:{}: expected `feed URL` or `page URL`, found {line:?}", n + 1),
        };
        sources.push(source);
    }
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| anyhow::anyhow!("a rustls crypto provider was already installed"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (bodies, items) = runtime.block_on(run(sources, concurrency, parse))?;
    println!("{bodies} bodies, {items} items");
    Ok(())
}

async fn run(sources: Vec<(Kind, String)>, concurrency: usize, parse: bool) -> anyhow::Result<(usize, usize)> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let turns = Arc::new(Semaphore::new(concurrency));
    let list_items = Arc::new(scraper::Selector::parse("li").map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut polls = tokio::task::JoinSet::new();
    for (kind, url) in sources {
        let (client, turns, list_items) = (client.clone(), turns.clone(), list_items.clone());
        polls.spawn(async move {
            let _turn = turns.acquire().await?;
            let mut response = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.with_context(|| format!("GET {url}"))? {
                body.extend_from_slice(&chunk);
            }
            Ok::<_, anyhow::Error>(if parse {
                parsed_items(&kind, body, &list_items).with_context(|| url)?
            } else {
                0
            })
        });
    }
    let (mut bodies, mut items) = (0, 0);
    while let Some(joined) = polls.join_next().await {
        items += joined??;
        bodies += 1;
    }
    Ok((bodies, items))
}

fn parsed_items(kind: &Kind, body: Vec<u8>, list_items: &scraper::Selector) -> anyhow::Result<usize> {
    Ok(match kind {
        Kind::Feed => {
            let feed = feed_rs::parser::Builder::new()
                .id_generator(|_, _, _| String::new())
                .timestamp_parser(|s| {
                    let s = s.trim();
                    let t =
                        chrono::DateTime::parse_from_rfc2822(s).or_else(|_| chrono::DateTime::parse_from_rfc3339(s));
                    t.ok().map(|t| t.with_timezone(&chrono::Utc))
                })
                .build()
                .parse(body.as_slice())?;
            feed.entries.len()
        }
        Kind::Page => {
            let text = match String::from_utf8(body) {
                Ok(text) => text,
                Err(e) => encoding_rs::SHIFT_JIS.decode(e.as_bytes()).0.into_owned(),
            };
            scraper::Html::parse_document(&text).select(list_items).count()
        }
    })
}
