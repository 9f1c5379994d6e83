//! The service as shipped: the systemd unit's hardening, and the config example.

use crate::util::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_systemd_unit_exposure_is_at_most_2() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/kisha.service");
    let out = tokio::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20", unit])
        .output()
        .await
        .expect("systemd-analyze (Debian package systemd) is needed; .ci/run installs it");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure in:\n{text}"));
    let score: f64 =
        line.split(':').nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap();
    assert!(score <= 2.0, "exposure {score} > 2.0: {line}");
    let verify = tokio::process::Command::new("systemd-analyze").args(["verify", unit]).output().await.unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(!complaints.contains("Unknown key"), "unknown directives:\n{complaints}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_config_example_passes_check() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/kisha.toml");
    let out = kisha(&["check", "--config", example]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let file = std::fs::read_to_string(example).unwrap();
    for id in ["kantei", "mod", "mofa"] {
        assert!(file.contains(&format!("id = \"{id}\"")));
    }
    assert!(text.contains("sources: 3"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_has_help_with_an_example_and_completions_work() {
    let commands: &[&[&str]] = &[
        &["run"],
        &["once"],
        &["check"],
        &["inspect"],
        &["status"],
        &["events"],
        &["digest"],
        &["store", "check"],
        &["outbox", "retry"],
        &["demo"],
        &["completions"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = kisha(&args).await;
        assert!(out.status.success(), "{cmd:?}");
        let help = stdout(&out);
        assert!(help.contains("Example") && help.contains("kisha "), "{cmd:?} --help has no example:\n{help}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = kisha(&["completions", shell]).await;
        assert!(out.status.success() && stdout(&out).contains("inspect"), "{shell}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_preview_shows_the_next_digest_and_changes_nothing() {
    let http = HttpServer::start().await;
    http.set("/feed.xml", Reply::file("application/rss+xml", fixture("captures/mlit.xml")));
    let setup = Setup::new(
        "first_run = \"mail\"\n[digest]\nschedule = [\"07:30\"]\n",
        "[mail]\nfrom = \"k@t.invalid\"\nto = [\"d@t.invalid\"]\ntransport = \"file\"\n",
        &feed_source("mlit", "国土交通省", &http.url("/feed.xml")),
        &keyword_rule(&["下水道"]),
    );
    let out = once(&setup).await;
    assert!(stdout(&out).contains("queued until the next digest time"), "{}", stdout(&out));
    let html = setup.dir.path().join("next.html");
    let before = kisha(&["status", "--json", "--config", setup.config.to_str().unwrap()]).await;
    let out =
        kisha(&["digest", "--preview", "--config", setup.config.to_str().unwrap(), "--html", html.to_str().unwrap()])
            .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("Subject: [kisha] 下水道管路"), "{}", stdout(&out));
    assert!(std::fs::read_to_string(&html).unwrap().contains("下水道管路のマネジメント"));
    let after = kisha(&["status", "--json", "--config", setup.config.to_str().unwrap()]).await;
    let queued = |o: &std::process::Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["outbox"]["queued_items"].clone()
    };
    assert!(queued(&before).as_u64().is_some_and(|n| n >= 1), "an item was queued: {}", queued(&before));
    assert_eq!(queued(&before), queued(&after), "preview sends nothing and dequeues nothing");
    assert!(!setup.state().join("outbox").exists(), "no .eml was written");
}
