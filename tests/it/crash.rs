//! Never lose an item: SIGKILL at any moment, SMTP outages of every kind,
//! bursts, and a second process on the same state directory.

use std::time::Duration;

use crate::util::*;

const FEED: &str = "/feed.xml";

/// A feed with `items` (title, path), newest first.
fn feed(http: &HttpServer, items: &[(String, String)]) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>防衛省</title><link>https://www.mod.go.jp/</link>",
    );
    for (title, path) in items.iter().rev() {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>{}</link><pubDate>Sat, 22 Aug 2026 18:00:00 +0900</pubDate></item>",
            http.url(path)
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

/// Runs `kisha once`, killing it with SIGKILL after `kill_after` if it is
/// still running. True when the run was stopped: killed before it ended, or
/// aborted (SIGABRT) at the crash point `crash_at`, which it must reach.
async fn once_killed(setup: &Setup, kill_after: Option<Duration>, crash_at: Option<&str>) -> bool {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"));
    cmd.args(["once", "--config", setup.config.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(point) = crash_at {
        cmd.env("KISHA_CRASH_AT", point);
    }
    let mut child = cmd.spawn().unwrap();
    match kill_after {
        Some(after) => {
            tokio::select! {
                _ = tokio::time::sleep(after) => { child.start_kill().unwrap(); child.wait().await.unwrap(); true }
                status = child.wait() => { let _ = status; false }
            }
        }
        None => {
            use std::os::unix::process::ExitStatusExt;
            const SIGABRT: i32 = 6;
            let status = child.wait().await.unwrap();
            crash_at.is_some() && status.signal() == Some(SIGABRT)
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_any_moment_loses_no_matched_item() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "",
        &smtp_mail(smtp.port),
        &feed_source("mod", "防衛省", &http.url(FEED)),
        &keyword_rule(&["防衛相会談"]),
    );
    let mut items: Vec<(String, String)> =
        (0..20).map(|i| (format!("既存の発表{i}について"), format!("/old/{i}.html"))).collect();
    http.set(FEED, Reply::file("application/rss+xml", feed(&http, &items)));
    once(&setup).await; // the baseline

    let seed = std::env::var("KISHA_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_181_129u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    let points = ["fetched", "committed", "in-flight", "sent", "acked"];
    let mut published = Vec::new();
    let (mut kills, mut crashes) = (0, 0);
    let mut reached = std::collections::BTreeSet::new();
    // First half: each killed run is followed by a clean one, as systemd
    // restarts a crashed service. Second half: every run is killed, so work
    // piles up across many crashes. (A kill between the server storing a
    // digest and kisha journaling its 250 would make one duplicate with the
    // same Message-ID: no SMTP client can know the server took it.) The feed
    // keeps every item, so an item never seen is one kisha lost, not one
    // that scrolled off the listing.
    let rounds = 110;
    for round in 0..rounds {
        // New items appear: two that match, one near miss that must never be mailed.
        for k in 0..2 {
            let title = format!("日米防衛相会談（第{round}回の{k}）");
            items.push((title.clone(), format!("/new/{round}-{k}.html")));
            published.push((title, round));
        }
        items.push((format!("防衛相が会談の予定を説明（第{round}回）"), format!("/other/{round}.html")));
        http.set(FEED, Reply::file("application/rss+xml", feed(&http, &items)));
        if round < rounds / 2 && round % 2 == 1 {
            // The restart after a crash.
            once_killed(&setup, None, None).await;
        } else if round % 8 == 6 {
            // A crash injected exactly at a stage boundary.
            let point = points[(round / 8) % points.len()];
            if once_killed(&setup, None, Some(point)).await {
                crashes += 1;
                reached.insert(point);
            }
        } else {
            // A SIGKILL at a random moment of a cycle (a debug cycle takes ~30–150 ms).
            let after = Duration::from_millis(rng.u64(0..150));
            kills += usize::from(once_killed(&setup, Some(after), None).await);
        }
    }
    // Recovery: plain cycles until the outbox is empty (bounded).
    for _ in 0..5 {
        let out = kisha(&["once", "--send-now", "--config", setup.config.to_str().unwrap()]).await;
        assert!(out.status.success(), "recovery failed: {}", stderr(&out));
        if stdout(&out).contains("mail: nothing to send") {
            break;
        }
    }

    let mails = smtp.messages();
    let mut lost = Vec::new();
    let (mut duplicated, mut more_than_twice) = (0, 0);
    for (title, round) in &published {
        let ids: Vec<&str> =
            mails.iter().filter(|m| m.text.contains(title.as_str())).map(|m| m.message_id.as_str()).collect();
        match ids.len() {
            0 => lost.push(title.clone()),
            1 => {}
            n => {
                duplicated += 1;
                assert!(
                    ids.iter().all(|id| *id == ids[0]),
                    "a resent digest must carry the same Message-ID ({title}): {ids:?}"
                );
                // With a restart between kills, a digest goes out at most twice. With
                // every run killed, each kill in the server's own window (after it
                // stored the message, before kisha read its 250) can add a copy.
                if n > 2 {
                    assert!(*round >= rounds / 2 - 2, "{title} (round {round}, restart half) was mailed {n} times");
                    more_than_twice += 1;
                }
            }
        }
    }
    for m in &mails {
        assert!(!m.text.contains("防衛相が会談の予定"), "a non-matching item was mailed");
    }
    println!(
        "kill test (seed {seed}): {rounds} cycles, {kills} SIGKILLs mid-cycle, {crashes} crashes at stage boundaries, {} matched items, {} lost, {duplicated} delivered more than once ({more_than_twice} more than twice, in the kill-every-run half), all copies with one Message-ID, {} mails",
        published.len(),
        lost.len(),
        mails.len()
    );
    // The crash points are certain; how many random kills land before a cycle
    // ends depends on the machine's speed, so that count is only reported.
    // (A round may legitimately miss its point: nothing left to send after the
    // previous kill delivered it.)
    assert_eq!(reached.len(), points.len(), "crash points reached: {reached:?} of {points:?}");
    assert!(lost.is_empty(), "lost: {lost:?}");
    let check = kisha(&["store", "check", "--config", setup.config.to_str().unwrap()]).await;
    assert!(check.status.success() && stdout(&check).contains("consistent"), "{}", stdout(&check));
}

/// A poll that queues nothing (a baseline above all) is written without a
/// transaction: the `seen` records of what left its listing, then its listing
/// (which records its items as seen), then its state. A crash
/// at any moment of that must never leave a state saying "baseline done"
/// without the items, or the next poll would mail the whole listing. Every
/// round starts over from an empty state directory and crashes its baseline,
/// and a clean cycle follows that must mail nothing. Odd rounds crash exactly
/// inside a poll's write, once its first part is on disk (`half-written`):
/// with the parts in the wrong order they would mail the listing. Even rounds
/// get a SIGKILL at a random moment.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_a_baseline_never_makes_the_listing_mail() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    // Every item matches the rule: any of them mailed is a flood.
    let listing = |s: usize, extra: usize| -> Vec<(String, String)> {
        let mut items: Vec<(String, String)> =
            (0..150).map(|i| (format!("日米防衛相会談（{s}の{i}）"), format!("/{s}/{i}.html"))).collect();
        items.extend((0..extra).map(|k| (format!("お知らせ（{s}の{k}）"), format!("/{s}/notice-{k}.html"))));
        items
    };
    let publish = |extra: usize| {
        for s in 0..8 {
            http.set(&format!("/feed{s}.xml"), Reply::file("application/rss+xml", feed(&http, &listing(s, extra))));
        }
    };
    let sources: String =
        (0..8).map(|s| feed_source(&format!("s{s}"), "防衛省", &http.url(&format!("/feed{s}.xml")))).collect();
    let setup = Setup::new("", &smtp_mail(smtp.port), &sources, &keyword_rule(&["防衛相会談"]));
    let seed = std::env::var("KISHA_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_260_829u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut kills, mut half_written) = (0, 0);
    for round in 0..16 {
        let _ = std::fs::remove_dir_all(setup.state());
        publish(0);
        let after = Duration::from_millis(rng.u64(0..200));
        if round % 2 == 1 {
            half_written += usize::from(once_killed(&setup, None, Some("half-written")).await);
        } else {
            kills += usize::from(once_killed(&setup, Some(after), None).await);
        }
        // The listing changes, so the next poll reads it whole (not a 304).
        publish(1);
        let out = kisha(&["once", "--send-now", "--config", setup.config.to_str().unwrap()]).await;
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("mail: nothing to send"),
            "round {round}, killed after {after:?}: {}",
            stdout(&out)
        );
        let check = kisha(&["store", "check", "--config", setup.config.to_str().unwrap()]).await;
        assert!(stdout(&check).contains("consistent"), "round {round}: {}", stdout(&check));
    }
    assert!(smtp.messages().is_empty(), "a baseline item was mailed");
    println!(
        "baseline kill test (seed {seed}): 16 baselines, {half_written} crashed half-written, {kills} of 8 killed mid-cycle, 0 mails"
    );
    assert_eq!(half_written, 8, "every odd round crashes inside a poll's write");
}
