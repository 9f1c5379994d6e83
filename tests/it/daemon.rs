//! The service: digest times, urgent rules, backoff and Retry-After on an
//! injected clock (no test sleeps in real time); SIGTERM, SIGHUP and the
//! systemd notifications on the real binary.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kisha::clock::{Clock, ManualClock};
use kisha::daemon::{self, Control};
use tokio::sync::watch;

use crate::util::*;

const FEED: &str = "/feed.xml";
/// Real time allowed for one loop iteration of the daemon.
const STEP: Duration = Duration::from_secs(20);

fn jst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+09:00")).unwrap().with_timezone(&Utc)
}

fn feed(http: &HttpServer, titles: &[&str]) -> Reply {
    let mut xml = String::from("<rss version=\"2.0\"><channel><title>t</title>");
    for (i, t) in titles.iter().enumerate() {
        xml.push_str(&format!("<item><title>{t}</title><link>{}</link></item>", http.url(&format!("/p/{i}.html"))));
    }
    Reply::file("application/rss+xml", xml + "</channel></rss>")
}

/// A daemon running in this process on a manual clock.
struct Daemon {
    clock: std::sync::Arc<ManualClock>,
    control: watch::Sender<Control>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    async fn start(setup: &Setup, at: DateTime<Utc>) -> Daemon {
        let (clock, manual) = Clock::manual(at);
        let (control, rx) = watch::channel(Control::default());
        let task = tokio::spawn(daemon::run(setup.config.clone(), clock, rx));
        assert!(manual.wait_idle(STEP).await, "the daemon did not settle");
        Daemon { clock: manual, control, task }
    }

    /// Runs the daemon until `t`, waking it at each of its own deadlines, as
    /// real time would.
    async fn run_until(&self, t: DateTime<Utc>) {
        // Bounded: a day of 30 s wake-ups is 2,880 iterations.
        for _ in 0..10_000 {
            match self.clock.sleeping_until() {
                Some(d) if d <= t => assert!(self.clock.advance_to(d, STEP).await, "stuck at {d}"),
                _ => {
                    assert!(self.clock.advance_to(t, STEP).await, "stuck at {t}");
                    return;
                }
            }
        }
        panic!("the daemon kept waking up before {t}");
    }

    async fn stop(self) {
        self.control.send_modify(|c| c.stop = true);
        tokio::time::timeout(STEP, self.task).await.expect("stops promptly").unwrap().unwrap();
    }
}

fn snapshot(setup: &Setup) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(setup.state().join("snapshot.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_go_out_at_the_scheduled_times_in_tokyo() {
    let http = HttpServer::start().await;
    http.set(FEED, feed(&http, &["既存"]));
    let smtp = SmtpSink::start();
    let sources =
        feed_source("mod", "防衛省", &http.url(FEED)).replace("kind = \"feed\"", "kind = \"feed\"\ninterval = \"10m\"");
    let setup = Setup::new(
        "[digest]\nschedule = [\"07:30\", \"18:00\"]\ntimezone = \"Asia/Tokyo\"\n",
        &smtp_mail(smtp.port),
        &sources,
        &keyword_rule(&["防衛相会談"]),
    );
    let d = Daemon::start(&setup, jst("2026-11-30T06:00:00")).await;
    d.run_until(jst("2026-11-30T06:05:00")).await; // the baseline poll
    // Nothing queued at 07:30: the slot passes; later matches wait for 18:00.
    d.run_until(jst("2026-11-30T07:45:00")).await;
    http.set(FEED, feed(&http, &["既存", "日米防衛相会談（朝）", "日豪防衛相会談（朝）"]));
    d.run_until(jst("2026-11-30T08:00:00")).await;
    assert_eq!(snapshot(&setup)["status"]["outbox"]["queued_items"], 2, "found and queued");
    d.run_until(jst("2026-11-30T17:59:00")).await;
    assert!(smtp.messages().is_empty(), "mailed before the digest time");
    d.run_until(jst("2026-11-30T18:01:00")).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one digest at 18:00");
    assert!(mails[0].text.contains("日米防衛相会談（朝）") && mails[0].text.contains("日豪防衛相会談（朝）"));
    assert!(
        mails[0].raw_header_lines.iter().any(|l| l.contains("Date: Mon, 30 Nov 2026 09:0")),
        "sent at 18:0x JST: {:?}",
        mails[0].raw_header_lines
    );
    // The next morning's slot.
    http.set(FEED, feed(&http, &["既存", "日米防衛相会談（朝）", "日豪防衛相会談（朝）", "日英防衛相会談（夜）"]));
    d.run_until(jst("2026-12-01T07:29:00")).await;
    assert_eq!(smtp.messages().len(), 1);
    d.run_until(jst("2026-12-01T07:31:00")).await;
    assert_eq!(smtp.messages().len(), 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_urgent_rule_mails_in_the_cycle_that_found_it() {
    let http = HttpServer::start().await;
    http.set(FEED, feed(&http, &["既存"]));
    let smtp = SmtpSink::start();
    let rules = "[[rule]]\nid = \"urgent\"\nany = [\"速報\"]\nurgent = true\n\n[[rule]]\nid = \"routine\"\nany = [\"防衛相会談\"]\n";
    let setup = Setup::new(
        "[digest]\nschedule = [\"07:30\"]\n",
        &smtp_mail(smtp.port),
        &feed_source("mod", "防衛省", &http.url(FEED)),
        rules,
    );
    let d = Daemon::start(&setup, jst("2026-11-30T09:00:00")).await;
    d.run_until(jst("2026-11-30T09:05:00")).await;
    http.set(FEED, feed(&http, &["既存", "日米防衛相会談", "【速報】ミサイル発射"]));
    d.run_until(jst("2026-11-30T09:20:00")).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "the urgent match went out at once");
    assert!(mails[0].text.contains("【速報】ミサイル発射"));
    assert!(!mails[0].text.contains("日米防衛相会談"), "the routine match waits for 07:30");
    d.run_until(jst("2026-12-01T07:31:00")).await;
    assert_eq!(smtp.messages().len(), 2);
    assert!(smtp.messages()[1].text.contains("日米防衛相会談"));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_source_backs_off_to_the_cap_and_never_stops() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::status(500));
    let smtp = SmtpSink::start();
    let sources =
        feed_source("mod", "防衛省", &http.url(FEED)).replace("kind = \"feed\"", "kind = \"feed\"\ninterval = \"10m\"");
    let setup =
        Setup::new("", &smtp_mail(smtp.port), &sources, &keyword_rule(&["x"])).with_fetch("backoff_cap = \"6h\"");
    let start = jst("2026-11-30T00:00:00");
    let d = Daemon::start(&setup, start).await;
    let mut polls: Vec<DateTime<Utc>> = Vec::new();
    let mut t = start;
    // Two simulated days, in one-minute steps (polls land on their deadlines).
    while t < start + chrono::Duration::days(2) {
        t += chrono::Duration::minutes(1);
        d.run_until(t).await;
        let last =
            snapshot(&setup)["status"]["sources"][0]["last_poll"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap());
        if let Some(last) = last
            && polls.last() != Some(&last)
        {
            polls.push(last);
        }
    }
    let gaps: Vec<i64> = polls.windows(2).map(|w| (w[1] - w[0]).num_minutes()).collect();
    println!("poll gaps (minutes) of a failing source: {gaps:?}");
    // 10 min × 2^(n-1), plus a jitter of at most a tenth of the interval (1 min), capped at 6 h.
    let expected = [10, 20, 40, 80, 160, 320, 360, 360];
    for (gap, want) in gaps.iter().zip(expected) {
        assert!((want..=want + 1).contains(gap), "gap {gap} min, expected {want}: {gaps:?}");
    }
    assert!(gaps.len() >= 9, "it never stops polling: {gaps:?}");
    let status = &snapshot(&setup)["status"]["sources"][0];
    assert!(status["consecutive_errors"].as_u64().unwrap() >= 10);
    assert_eq!(status["problems"][0]["kind"], "failing");

    // The server recovers, asking to wait eight hours first: longer than the
    // 6 h backoff cap, so only an honoured Retry-After explains the wait.
    http.set(FEED, Reply::Status { code: 503, headers: vec![("retry-after", "28800".into())] });
    let now = t;
    d.run_until(now + chrono::Duration::hours(7)).await;
    http.set(FEED, feed(&http, &["回復"]));
    let after_503 =
        snapshot(&setup)["status"]["sources"][0]["next_poll"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let last =
        snapshot(&setup)["status"]["sources"][0]["last_poll"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(http.hits_on(FEED).last().map(|h| h.status), Some(503), "the 503 was served");
    assert!(after_503 - last >= chrono::Duration::hours(8), "Retry-After honoured: {last} → {after_503}");
    d.run_until(after_503 + chrono::Duration::minutes(1)).await;
    let status = &snapshot(&setup)["status"]["sources"][0];
    assert_eq!(status["consecutive_errors"], 0, "recovered: {status}");
    d.stop().await;
}

/// A source polled every minute. The daemon spreads its first polls over a
/// tenth of the interval (at most 5 minutes): 6 s for this one, where a source
/// of the default 10 minutes may wait 30 s, as long as the tests' waits.
fn minutely(source: String) -> String {
    source.replace("kind = \"feed\"", "kind = \"feed\"\ninterval = \"1m\"")
}

/// The real `kisha run`, with its stderr collected.
struct Service {
    child: tokio::process::Child,
    log: std::path::PathBuf,
}

impl Service {
    fn start(setup: &Setup, env: &[(&str, String)]) -> Service {
        let log = setup.dir.path().join("daemon.log");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"));
        cmd.args(["run", "--config", setup.config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Service { child: cmd.spawn().unwrap(), log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    /// Waits (bounded, real time) until the log contains `text`.
    async fn wait_log(&self, text: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.log().contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {text:?} in the log within {limit:?}:\n{}", self.log());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_digest_being_sent_and_exits_cleanly() {
    let http = HttpServer::start().await;
    http.set(FEED, feed(&http, &["日米防衛相会談"]));
    let smtp = SmtpSink::start();
    smtp.set_mode("slow");
    let setup = Setup::new(
        "first_run = \"mail\"",
        &smtp_mail(smtp.port),
        &minutely(feed_source("mod", "防衛省", &http.url(FEED))),
        &keyword_rule(&["防衛相会談"]),
    );
    let mut service = Service::start(&setup, &[]);
    service.wait_log("matched", Duration::from_secs(30)).await;
    // The digest is now on its way to a server that takes 3 s to answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.signal("-TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), service.child.wait())
        .await
        .expect("exits within seconds")
        .unwrap();
    assert!(status.success(), "{}", service.log());
    assert_eq!(smtp.messages().len(), 1, "the digest in progress was finished, not cut:\n{}", service.log());
    let log = service.log();
    assert!(log.contains("digest delivered") && log.contains("stopped"), "{log}");
    let check = kisha(&["store", "check", "--config", setup.config.to_str().unwrap()]).await;
    assert!(stdout(&check).contains("0 queued") && stdout(&check).contains("consistent"), "{}", stdout(&check));
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_bad_one() {
    let http = HttpServer::start().await;
    http.set(FEED, feed(&http, &["既存"]));
    http.set("/second.xml", feed(&http, &["第二"]));
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "",
        &smtp_mail(smtp.port),
        &minutely(feed_source("mod", "防衛省", &http.url(FEED))),
        &keyword_rule(&["防衛相会談"]),
    );
    let service = Service::start(&setup, &[]);
    service.wait_log("baseline recorded", Duration::from_secs(30)).await;
    let good = std::fs::read_to_string(&setup.config).unwrap();

    // A broken config: rejected with the file, line and key; the old one stays.
    std::fs::write(&setup.config, good.replace("kind = \"feed\"", "kind = \"fede\"")).unwrap();
    service.signal("-HUP");
    service.wait_log("config reload failed, keeping the old one", Duration::from_secs(30)).await;
    assert!(service.log().contains("unknown kind `fede`"), "{}", service.log());

    // A good one with a second source: it gets polled.
    std::fs::write(&setup.config, good.clone() + &minutely(feed_source("second", "第二", &http.url("/second.xml"))))
        .unwrap();
    service.signal("-HUP");
    service.wait_log("config reloaded", Duration::from_secs(30)).await;
    service.wait_log("source=second", Duration::from_secs(60)).await;
    service.signal("-TERM");
    let mut child = service.child;
    assert!(tokio::time::timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn it_tells_systemd_it_is_ready_and_pings_the_watchdog_while_alive() {
    let http = HttpServer::start().await;
    http.set(FEED, feed(&http, &["既存"]));
    let smtp = SmtpSink::start();
    let setup =
        Setup::new("", &smtp_mail(smtp.port), &feed_source("mod", "防衛省", &http.url(FEED)), &keyword_rule(&["x"]));
    let socket_path = setup.dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let service = Service::start(
        &setup,
        &[("NOTIFY_SOCKET", socket_path.display().to_string()), ("WATCHDOG_USEC", "2000000".into())],
    );
    let mut seen = String::new();
    let mut buf = vec![0u8; 4096];
    // Bounded: at most 40 datagrams or 20 s.
    for _ in 0..40 {
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(20), socket.recv(&mut buf)).await else { break };
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.contains("READY=1") && seen.matches("WATCHDOG=1").count() >= 3 {
            break;
        }
    }
    assert!(seen.contains("READY=1"), "{seen}");
    assert!(
        seen.matches("WATCHDOG=1").count() >= 3,
        "the watchdog is pinged while the loop runs: {seen}\n{}",
        service.log()
    );
    service.signal("-TERM");
    let mut child = service.child;
    assert!(tokio::time::timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap().success());
}

fn proc_status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// 24 simulated hours of a daemon polling 10 sources every 10 minutes (all
/// answering 304 after the first poll). File descriptors must stay flat; the
/// resident memory is printed, not asserted (it includes this test process).
#[tokio::test(flavor = "multi_thread")]
async fn a_simulated_day_of_polling_keeps_file_descriptors_flat() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let mut sources = String::new();
    for i in 0..10 {
        let path = format!("/f{i}.xml");
        http.set(&path, feed(&http, &["既存"]));
        sources.push_str(
            &feed_source(&format!("s{i}"), "S", &http.url(&path))
                .replace("kind = \"feed\"", "kind = \"feed\"\ninterval = \"10m\""),
        );
    }
    let setup = Setup::new("", &smtp_mail(smtp.port), &sources, &keyword_rule(&["防衛相会談"]));
    let start = jst("2026-11-30T00:00:00");
    let d = Daemon::start(&setup, start).await;
    d.run_until(start + chrono::Duration::hours(1)).await;
    let (fds_1h, rss_1h) = (open_fds(), proc_status("VmRSS:"));
    http.clear_hits();
    d.run_until(start + chrono::Duration::hours(24)).await;
    let (fds_24h, rss_24h) = (open_fds(), proc_status("VmRSS:"));
    let polls = http.hits().len();
    println!(
        "a simulated day: {polls} polls after the first hour ({} answered 304); open fds {fds_1h} → {fds_24h}; RSS of the test process {} KiB → {} KiB (peak {} KiB)",
        http.hits().iter().filter(|h| h.status == 304).count(),
        rss_1h,
        rss_24h,
        proc_status("VmHWM:")
    );
    // 23 hours at one poll per 10–11 minutes (the interval plus at most a tenth of jitter).
    assert!(polls >= 10 * (23 * 60 / 11), "every source polled about every 10 minutes: {polls}");
    assert!(fds_24h <= fds_1h + 4, "file descriptors grew: {fds_1h} → {fds_24h}");
    d.stop().await;
}
