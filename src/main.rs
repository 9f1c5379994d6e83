//! The `kisha` command: parses the command line, sets up logging, loads the
//! config and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use kisha::clock::Clock;
use kisha::config::Config;
use kisha::cycle::{self, Context};

#[derive(Parser)]
#[command(
    name = "kisha",
    version,
    about = "Watches government press releases and mails a structured digest of the ones that matter"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one cycle: fetch every source, record new items, mail one digest, exit.
    #[command(after_help = "Example:\n  kisha once --config /etc/kisha/kisha.toml")]
    Once {
        #[arg(long, short)]
        config: PathBuf,
        /// Send what is queued now, ignoring the digest schedule and the backoff.
        #[arg(long)]
        send_now: bool,
    },
    /// Run the whole pipeline offline on recorded pages and print the digest.
    #[command(after_help = "Example:\n  kisha demo")]
    Demo {
        /// Keep the demo's state and mail in this directory (default: a new temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Validate the config (URLs, selectors, rules, mail settings) and exit.
    #[command(after_help = "Example:\n  kisha check --config config/kisha.toml")]
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn once(config: PathBuf, send_now: bool) -> anyhow::Result<()> {
    let config = load(&config)?;
    let ctx = Context::open(config, Clock::system())?;
    let sources: Vec<_> = ctx.config.sources.iter().filter(|s| s.enabled).cloned().collect();
    let report = cycle::run_cycle(&ctx, &sources, send_now).await?;
    for s in &report.sources {
        println!("{:<16} {:?}", s.id, s.outcome);
    }
    println!("delivery: {:?}", report.delivery);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kisha: unable to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Once { config, send_now } => once(config, send_now).await,
            Command::Demo { dir } => kisha::demo::run(dir).await.map(|_| ()),
            Command::Check { config } => load(&config)
                .map(|c| println!("{}: ok, {} sources, {} rules", c.path.display(), c.sources.len(), c.rules.len())),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kisha: {e:#}");
            ExitCode::FAILURE
        }
    }
}
