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
    let line = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("no exposure in:\n{text}"));
    let score: f64 = line.split(':').nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap();
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
    for id in ["kantei", "mod", "mofa"] {
        assert!(std::fs::read_to_string(example).unwrap().contains(&format!("id = \"{id}\"")));
    }
    assert!(text.contains("sources: 3"), "{text}");
}
