//! The `kisha` command: parses the command line, sets up logging, loads the
//! config and calls the library.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use clap::{CommandFactory, Parser, Subcommand};

use kisha::clock::Clock;
use kisha::config::Config;
use kisha::cycle::{self, Context};
use kisha::store::{Store, StoreError};
use kisha::{daemon, digest, inspect, status};

#[derive(Parser)]
#[command(
    name = "kisha",
    version,
    about = "Watches government press releases and mails a structured digest of the ones that matter",
    after_help = "Start with `kisha demo`, then write a config (see config/kisha.toml) and run `kisha check --config FILE`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run as a service: poll each source on its interval, mail digests, until SIGTERM.
    #[command(
        after_help = "Example:\n  kisha run --config /etc/kisha/kisha.toml\n\nSIGTERM/SIGINT stop it cleanly; SIGHUP reloads the config."
    )]
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run one cycle: fetch every source, record new items, mail one digest, exit.
    #[command(
        after_help = "Example:\n  kisha once --config /etc/kisha/kisha.toml\n\nExit status 0 unless the config or the store is unusable; a failing source is reported, not fatal."
    )]
    Once {
        #[arg(long, short)]
        config: PathBuf,
        /// Send what is queued now, ignoring the digest schedule and the backoff.
        #[arg(long)]
        send_now: bool,
    },
    /// Validate the config (URLs, selectors, rules, mail settings) and exit.
    #[command(after_help = "Example:\n  kisha check --config config/kisha.toml")]
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show what a source, URL or file yields, and why each item matches or not. Changes nothing.
    #[command(
        after_help = "Examples:\n  kisha inspect mod --config config/kisha.toml\n  kisha inspect https://www.mod.go.jp/j/rss/news.xml --follow\n  kisha inspect news.xml --base https://www.mod.go.jp/j/rss/news.xml\n  kisha inspect release.html --json"
    )]
    Inspect {
        /// A source id from the config, a URL, or a file (feed, listing or release page).
        target: String,
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Read the release page of each matching item, for its facts.
        #[arg(long)]
        follow: bool,
        /// For a file: the URL it was saved from, to resolve its relative links.
        #[arg(long)]
        base: Option<url::Url>,
        #[arg(long)]
        json: bool,
    },
    /// Show each source's health, the outbox and the store (works while the daemon runs).
    #[command(after_help = "Example:\n  kisha status --config /etc/kisha/kisha.toml --json")]
    Status {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the events mailed so far, newest first, with their releases.
    #[command(after_help = "Example:\n  kisha events --config /etc/kisha/kisha.toml --since 2026-11-01")]
    Events {
        #[arg(long, short)]
        config: PathBuf,
        /// Only events on or after this day (YYYY-MM-DD).
        #[arg(long)]
        since: Option<NaiveDate>,
        #[arg(long)]
        json: bool,
    },
    /// Render the digest that would go out next, without sending or changing anything.
    #[command(after_help = "Example:\n  kisha digest --preview --config /etc/kisha/kisha.toml --html /tmp/next.html")]
    Digest {
        #[arg(long, short)]
        config: PathBuf,
        /// Required: only previewing is supported.
        #[arg(long)]
        preview: bool,
        /// Also write the HTML part to this file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Maintain the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manage the outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Run the whole pipeline offline on recorded pages and print the digest.
    #[command(after_help = "Example:\n  kisha demo")]
    Demo {
        /// Keep the demo's state and mail in this directory (default: a new temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print shell completions.
    #[command(after_help = "Example:\n  kisha completions bash > /etc/bash_completion.d/kisha")]
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Read every record and check that the store is consistent.
    #[command(after_help = "Example:\n  kisha store check --config /etc/kisha/kisha.toml")]
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Lift a suspension after a permanent refusal and retry at once.
    #[command(after_help = "Example:\n  kisha outbox retry --config /etc/kisha/kisha.toml")]
    Retry {
        #[arg(long, short)]
        config: PathBuf,
    },
}

impl Command {
    fn config_path(&self) -> Option<&Path> {
        match self {
            Command::Run { config }
            | Command::Once { config, .. }
            | Command::Check { config }
            | Command::Status { config, .. }
            | Command::Events { config, .. }
            | Command::Digest { config, .. }
            | Command::Store(StoreCommand::Check { config })
            | Command::Outbox(OutboxCommand::Retry { config }) => Some(config),
            Command::Inspect { config, .. } => config.as_deref(),
            Command::Demo { .. } | Command::Completions { .. } => None,
        }
    }
}

fn init_logging(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Opens the store, or says how to reach a running daemon's snapshot.
fn open_store(config: &Config) -> Result<Store, StoreError> {
    Store::open(&config.state_dir, config.store.cache_bytes)
}

async fn once(config: Config, send_now: bool) -> anyhow::Result<()> {
    let ctx = Context::open(config, Clock::system())?;
    let sources: Vec<_> = ctx.config.sources.iter().filter(|s| s.enabled).collect();
    let report = cycle::run_cycle(&ctx, &sources, send_now).await?;
    // One line a source: buffered, or stdout's line buffering makes each a
    // write of its own (1,000 syscalls in a cycle of 1,000 sources).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for s in &report.sources {
        writeln!(out, "{:<16} {}", s.id, describe(&s.outcome))?;
    }
    writeln!(out, "mail: {}", report.delivery)?;
    out.flush()?;
    Ok(())
}

fn describe(o: &cycle::Outcome) -> String {
    match o {
        cycle::Outcome::NotModified => "NotModified (304)".into(),
        cycle::Outcome::Baseline { items } => format!("Baseline: {items} items recorded, nothing mailed"),
        cycle::Outcome::Polled { items, new, matched } => format!("items: {items}, new: {new}, matched: {matched}"),
        cycle::Outcome::Failed { error } => format!("Failed: {error}"),
    }
}

fn check(config: &Config) -> anyhow::Result<()> {
    let feeds = config.sources.iter().filter(|s| matches!(s.kind, kisha::config::SourceKind::Feed)).count();
    let transport = match &config.mail.transport {
        kisha::config::Transport::Smtp(s) => format!(
            "smtp://{}:{} ({}{})",
            s.host,
            s.port,
            match s.security {
                kisha::config::Security::None => "no TLS",
                kisha::config::Security::StartTls => "STARTTLS",
                kisha::config::Security::Tls => "implicit TLS",
            },
            s.username.as_deref().map(|u| format!(", AUTH as {u}")).unwrap_or_default()
        ),
        kisha::config::Transport::File { dir } => format!(".eml files in {}", dir.display()),
    };
    println!("{}: ok", config.path.display());
    let pages = config.sources.len() - feeds;
    println!(
        "  sources: {} ({feeds} feed{}, {pages} page{})",
        config.sources.len(),
        if feeds == 1 { "" } else { "s" },
        if pages == 1 { "" } else { "s" }
    );
    println!("  rules:   {}", config.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", "));
    println!(
        "  mail:    {} → {}",
        config.mail.from,
        config.mail.to.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
    );
    println!("  via:     {transport}");
    println!(
        "  digests: {}",
        config.digest.schedule.as_ref().map_or("every cycle with matches".to_owned(), |s| s.text.clone())
    );
    println!("  state:   {}", config.state_dir.display());
    Ok(())
}

fn snapshot_or(config: &Config, e: StoreError) -> anyhow::Result<status::Snapshot> {
    match e {
        StoreError::Locked { .. } => status::read_snapshot(&config.state_dir).with_context(|| format!("{e}")),
        other => Err(other.into()),
    }
}

fn show_status(config: &Config, json: bool) -> anyhow::Result<()> {
    let status = match open_store(config) {
        Ok(store) => status::collect(config, &store, Utc::now())?,
        Err(e) => snapshot_or(config, e)?.status,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status::render(&status));
    }
    Ok(())
}

fn events(config: &Config, since: Option<NaiveDate>, json: bool) -> anyhow::Result<()> {
    let events = match open_store(config) {
        Ok(store) => store.events_since(since)?,
        Err(e) => snapshot_or(config, e)?
            .events
            .into_iter()
            .filter(|ev| since.is_none_or(|s| ev.date.is_none_or(|d| d >= s)))
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    if events.is_empty() {
        println!("no events{}", since.map(|s| format!(" since {s}")).unwrap_or_default());
    }
    for e in &events {
        let sent = e
            .first_sent
            .map(|t| t.with_timezone(&kisha::dates::jst()).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        println!(
            "{}  {}{}  ({} release{}, mailed {sent})",
            e.date.map(|d| d.to_string()).unwrap_or_else(|| "----------".into()),
            e.headline,
            e.country.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default(),
            e.releases.len(),
            if e.releases.len() == 1 { "" } else { "s" }
        );
        for r in &e.releases {
            println!("            {}: {}  {}", r.source_name, r.title, r.url.as_deref().unwrap_or("-"));
        }
    }
    Ok(())
}

fn preview(config: &Config, html: Option<PathBuf>) -> anyhow::Result<()> {
    let now = Utc::now();
    let (queued, known) = match open_store(config) {
        Ok(store) => (store.pending()?, store.joinable_events(now)?),
        Err(e) => {
            let snap = snapshot_or(config, e)?;
            (snap.queued, snap.events)
        }
    };
    let Some(composed) = digest::compose(&queued, &known, config.digest.max_entries, &config.mail.subject_prefix, now)
    else {
        println!("nothing queued: no digest would go out now");
        return Ok(());
    };
    println!("Subject: {}\n", composed.subject);
    print!("{}", composed.text);
    if let Some(path) = html {
        std::fs::write(&path, composed.html).with_context(|| format!("unable to write {}", path.display()))?;
        eprintln!("HTML part written to {}", path.display());
    }
    Ok(())
}

fn store_check(config: &Config) -> anyhow::Result<bool> {
    let store = open_store(config)?;
    let r = store.check()?;
    println!(
        "store {} (schema {}): {} listed items, {} seen records (items that left their listing), {} sources, {} queued, {} events{}",
        config.state_dir.display(),
        r.schema.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        r.listed,
        r.seen,
        r.sources,
        r.queued,
        r.events,
        r.in_flight.as_deref().map(|m| format!(", digest in flight {m}")).unwrap_or_default()
    );
    for p in &r.problems {
        println!("  problem: {p}");
    }
    println!("{}", if r.problems.is_empty() { "consistent" } else { "INCONSISTENT" });
    Ok(r.problems.is_empty())
}

async fn outbox_retry(config: Config) -> anyhow::Result<()> {
    let ctx = Context::open(config, Clock::system())?;
    let mut state = ctx.store.mail_state()?;
    if let Some(s) = state.suspended.take() {
        println!("lifting the suspension of {} ({})", s.since, s.error);
    }
    state.next_attempt = None;
    ctx.store.save_mail_state(&state)?;
    let d = cycle::deliver(&ctx, true).await?;
    println!("mail: {d}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The config is loaded before logging starts, so that its log_level applies.
    let config = match cli.command.config_path().map(Config::load).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kisha: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The demo narrates on stdout, and `once` prints a line per source: their
    // log would only repeat it (a line per source again), so it shows
    // warnings and errors unless the config's log_level or RUST_LOG asks for
    // more.
    let configured = config.as_ref().and_then(|c| c.log_level.as_deref());
    let level = match &cli.command {
        Command::Demo { .. } => Some("warn"),
        Command::Once { .. } => configured.or(Some("warn")),
        _ => configured,
    };
    init_logging(level);
    // The daemon runs a worker per core. A one-shot command runs its async
    // work on this thread alone: a cycle mostly waits on the network, and a
    // second worker cost more in cross-thread wake-ups than it gave back
    // (`kisha once`, 1,000 sources: 0.17 s of CPU against 0.12-0.14 s for a
    // cycle of 304s; scripts/bench-cycle). Parsing and sled transactions run
    // on the blocking pool either way, at most one per core at once: more
    // would only hold more documents in memory (46 MiB against 53 MiB at the
    // peak of a cold cycle of 1,000 sources with tokio's default of 512).
    let mut builder = match cli.command {
        Command::Run { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match builder.max_blocking_threads(cores).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kisha: unable to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<bool> = runtime.block_on(async move {
        // Moved, not cloned: a config of 10,000 sources is megabytes.
        let need = |config: Option<Config>| config.expect("commands with --config have a loaded config");
        match cli.command {
            Command::Run { config: path } => {
                let signals = daemon::unix_signals()?;
                daemon::run(path, Clock::system(), signals).await.map(|_| true)
            }
            Command::Once { send_now, .. } => once(need(config), send_now).await.map(|_| true),
            Command::Check { .. } => check(&need(config)).map(|_| true),
            Command::Inspect { target, follow, base, json, .. } => {
                let report = inspect::inspect(&target, config.as_ref(), follow, base.as_ref()).await?;
                print!("{}", if json { inspect::to_json(&report) + "\n" } else { inspect::render(&report) });
                Ok(true)
            }
            Command::Status { json, .. } => show_status(&need(config), json).map(|_| true),
            Command::Events { since, json, .. } => events(&need(config), since, json).map(|_| true),
            Command::Digest { preview: true, html, .. } => preview(&need(config), html).map(|_| true),
            Command::Digest { preview: false, .. } => {
                anyhow::bail!("digest: only --preview is supported; digests are sent by `kisha once` and `kisha run`")
            }
            Command::Store(StoreCommand::Check { .. }) => store_check(&need(config)),
            Command::Outbox(OutboxCommand::Retry { .. }) => outbox_retry(need(config)).await.map(|_| true),
            Command::Demo { dir } => kisha::demo::run(dir).await.map(|_| true),
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut Cli::command(), "kisha", &mut std::io::stdout());
                Ok(true)
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kisha: {e:#}");
            ExitCode::FAILURE
        }
    }
}
