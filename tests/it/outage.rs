//! SMTP outages of every kind, TLS and AUTH, bursts, and a second process.

use crate::util::*;

const FEED: &str = "/feed.xml";

fn feed_with(http: &HttpServer, titles: &[String]) -> Vec<u8> {
    let names: Vec<String> = titles.iter().enumerate().map(|(i, t)| format!("{i}-{}", t.len())).collect();
    let items: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(titles.iter().map(String::as_str)).collect();
    feed_of(http, &items)
}

/// A feed of items with the given link names and titles.
fn feed_of(http: &HttpServer, items: &[(&str, &str)]) -> Vec<u8> {
    let mut xml = String::from("<rss version=\"2.0\"><channel><title>t</title>");
    for (name, title) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>{}</link></item>",
            http.url(&format!("/p/{name}.html"))
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

fn titles(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}防衛相会談{i}")).collect()
}

async fn setup_with(http: &HttpServer, mail: &str, extra: &str) -> Setup {
    Setup::new(
        &format!("first_run = \"mail\"\n{extra}"),
        mail,
        &feed_source("mod", "防衛省", &http.url(FEED)),
        &keyword_rule(&["防衛相会談"]),
    )
}

/// A feed server answering `feed`, an SMTP sink, and a setup that polls the
/// one and mails to the other.
async fn serving(feed: impl FnOnce(&HttpServer) -> Vec<u8>) -> (HttpServer, SmtpSink, Setup) {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed(&http)));
    let smtp = SmtpSink::start();
    let setup = setup_with(&http, &smtp_mail(smtp.port), "").await;
    (http, smtp, setup)
}

async fn status_json(setup: &Setup) -> serde_json::Value {
    let out = kisha(&["status", "--json", "--config", setup.config.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn send_now(setup: &Setup) -> [&str; 4] {
    ["once", "--send-now", "--config", setup.config.to_str().unwrap()]
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connections_back_off_across_restarts_then_everything_goes_in_one_digest() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &titles("一", 2))));
    let smtp = SmtpSink::start();
    let port = smtp.stop(); // nothing listens there now
    let setup = setup_with(&http, &smtp_mail(port), "").await;

    let out = once(&setup).await;
    assert!(stderr(&out).contains("Connection refused"), "{}", stderr(&out));
    let status = status_json(&setup).await;
    assert_eq!(status["outbox"]["queued_items"], 2);
    assert_eq!(status["outbox"]["consecutive_failures"], 1);
    assert!(status["outbox"]["last_error"].as_str().unwrap().contains("Connection refused"));

    // A new process within the backoff does not even try; new matches keep queueing.
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &[titles("一", 2), titles("二", 2)].concat())));
    let out = once(&setup).await;
    assert!(stdout(&out).contains("mail: waiting until"), "the backoff survives a restart:\n{}", stdout(&out));
    assert_eq!(status_json(&setup).await["outbox"]["queued_items"], 4);

    // The server comes back: one digest with all four, not one mail per item or per cycle.
    let smtp = SmtpSink::start_with(smtp_opts::Options { port: Some(port), ..Default::default() });
    let out = kisha(&send_now(&setup)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    for t in [titles("一", 2), titles("二", 2)].concat() {
        assert!(mails[0].text.contains(&t), "{t} missing");
    }
    assert_eq!(status_json(&setup).await["outbox"]["queued_items"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_mid_data_is_transient_and_the_retry_carries_the_same_message_id() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &titles("三", 1))));
    let smtp = SmtpSink::start();
    smtp.set_mode("stall");
    let mail = smtp_mail(smtp.port).replace("timeout = \"5s\"", "timeout = \"2s\"");
    let setup = setup_with(&http, &mail, "").await;
    let out = once(&setup).await;
    assert!(stderr(&out).to_lowercase().contains("timed out") || stderr(&out).contains("timeout"), "{}", stderr(&out));
    let status = status_json(&setup).await;
    assert_eq!(status["outbox"]["queued_items"], 1);
    assert!(status["outbox"]["suspended"].is_null(), "a timeout is not permanent");

    smtp.set_mode("accept");
    let out = kisha(&send_now(&setup)).await;
    assert!(out.status.success());
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{}", stderr(&out));
    assert!(mails[0].text.contains("三防衛相会談0"));
    let stalled = smtp.stalled();
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0].message_id, mails[0].message_id, "the retry of the same entries carries the same Message-ID");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_is_retried_and_a_5xx_suspends_until_the_operator_acts() {
    let (_http, smtp, setup) = serving(|http| feed_with(http, &titles("四", 1))).await;
    smtp.set_mode("tempfail");
    once(&setup).await;
    let status = status_json(&setup).await;
    assert!(status["outbox"]["last_error"].as_str().unwrap().contains("451"));
    assert!(status["outbox"]["suspended"].is_null());

    // A 5xx: kept, reported, and not retried on every cycle.
    smtp.set_mode("reject");
    let out = kisha(&send_now(&setup)).await;
    assert!(stderr(&out).contains("554") && stderr(&out).contains("suspended"), "{}", stderr(&out));
    let status = status_json(&setup).await;
    assert!(status["outbox"]["suspended"].as_str().unwrap().contains("554"), "{status}");
    assert_eq!(status["outbox"]["queued_items"], 1);
    let text = kisha(&["status", "--config", setup.config.to_str().unwrap()]).await;
    assert!(stdout(&text).contains("SUSPENDED"), "{}", stdout(&text));

    smtp.set_mode("accept");
    let out = kisha(&send_now(&setup)).await;
    assert!(stdout(&out).contains("suspended"), "a suspended outbox waits for the operator: {}", stdout(&out));
    assert!(smtp.messages().is_empty());

    let out = kisha(&["outbox", "retry", "--config", setup.config.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(smtp.messages().len(), 1);
    assert!(status_json(&setup).await["outbox"]["suspended"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_600_matches_makes_one_capped_digest() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &titles("前", 3))));
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "",
        &smtp_mail(smtp.port),
        &feed_source("mod", "防衛省", &http.url(FEED)),
        &keyword_rule(&["防衛相会談"]),
    );
    once(&setup).await; // baseline
    let burst = [titles("前", 3), titles("急", 600)].concat();
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &burst)));
    once(&setup).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one digest, never hundreds of mails");
    let text = &mails[0].text;
    // 50 in full (digest.max_entries), 450 more in brief (500 named in all), 100 counted.
    let full = (0..600).filter(|i| text.contains(&format!("■ 急防衛相会談{i}\n"))).count();
    let brief = (0..600).filter(|i| text.contains(&format!("  - 防衛省: 急防衛相会談{i} <"))).count();
    assert_eq!((full, brief), (50, 450), "{}", &text[..2000.min(text.len())]);
    assert!(text.contains("+100 more matches not named here"), "{}", &text[text.len().saturating_sub(600)..]);
    assert!(mails[0].subject.contains("+"), "{}", mails[0].subject);
    // Nothing stays behind to trickle out as more mails.
    once(&setup).await;
    assert_eq!(smtp.messages().len(), 1);
    let events = kisha(&["events", "--json", "--config", setup.config.to_str().unwrap()]).await;
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 600, "`kisha events` lists all of them");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_that_moves_every_url_is_not_news() {
    let http = HttpServer::start().await;
    let items = titles("旧", 30);
    let listing = |prefix: &str| {
        let mut xml = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for (i, t) in items.iter().enumerate() {
            xml.push_str(&format!(
                "<item><title>{t}</title><link>{}</link></item>",
                http.url(&format!("/{prefix}/{i}.html"))
            ));
        }
        xml + "</channel></rss>"
    };
    http.set(FEED, Reply::file("application/rss+xml", listing("old")));
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "",
        &smtp_mail(smtp.port),
        &feed_source("mod", "防衛省", &http.url(FEED)),
        &keyword_rule(&["防衛相会談"]),
    );
    once(&setup).await;
    http.set(FEED, Reply::file("application/rss+xml", listing("new-site")));
    let out = once(&setup).await;
    assert!(smtp.messages().is_empty(), "moved items were mailed:\n{}", stderr(&out));
    assert!(stderr(&out).contains("reappeared under new URLs"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_on_the_same_state_gets_a_clear_error() {
    let (_http, _smtp, setup) = serving(|http| feed_with(http, &titles("五", 1))).await;
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
        .args(["run", "--config", setup.config.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Bounded wait for the daemon to hold the lock (10 s).
    let lock = setup.state().join("kisha.lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| !s.trim().is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = kisha(&["once", "--config", setup.config.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("in use by another kisha process") && err.contains(&format!("pid {}", daemon.id().unwrap())),
        "{err}"
    );
    // `status` still works, from the daemon's snapshot.
    for _ in 0..100 {
        if setup.state().join("snapshot.json").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = kisha(&["status", "--config", setup.config.to_str().unwrap()]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(stdout(&status).contains("snapshot of the running daemon"), "{}", stdout(&status));
    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_and_implicit_tls_with_auth_deliver() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &titles("六", 1))));
    for (mode, security) in [("starttls", "starttls"), ("implicit", "tls")] {
        let smtp = SmtpSink::start_with(smtp_opts::Options {
            tls: Some(mode),
            auth: Some("desk:s3cret-pass"),
            ..Default::default()
        });
        let mail = format!(
            "[mail]\nfrom = \"kisha@test.invalid\"\nto = [\"desk@test.invalid\"]\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"{security}\"\nusername = \"desk\"\npassword_env = \"KISHA_TEST_SMTP_PASSWORD\"\nca_file = \"{}\"\ntimeout = \"5s\"\n",
            smtp.port,
            smtp.ca_file().display()
        );
        let setup = setup_with(&http, &mail, "").await;
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
            .args(["once", "--config", setup.config.to_str().unwrap()])
            .env("KISHA_TEST_SMTP_PASSWORD", "s3cret-pass")
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        assert_eq!(smtp.messages().len(), 1, "{mode}: {}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_smtp_password_never_appears_in_logs_status_or_errors() {
    let http = HttpServer::start().await;
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &titles("七", 1))));
    let smtp = SmtpSink::start_with(smtp_opts::Options { auth: Some("desk:right-password"), ..Default::default() });
    let secret = "Wr0ng-Pa55-9f3c";
    let mail = format!(
        "[mail]\nfrom = \"kisha@test.invalid\"\nto = [\"desk@test.invalid\"]\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"desk\"\npassword_env = \"KISHA_TEST_SMTP_PASSWORD\"\ntimeout = \"5s\"\n",
        smtp.port
    );
    let setup = setup_with(&http, &mail, "").await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
        .args(["once", "--config", setup.config.to_str().unwrap()])
        .env("KISHA_TEST_SMTP_PASSWORD", secret)
        .env("RUST_LOG", "trace")
        .output()
        .await
        .unwrap();
    let everything = format!("{}{}", stdout(&out), stderr(&out));
    let refusal = stderr(&out).lines().find(|l| l.contains("delivery suspended")).map(str::to_owned);
    assert!(
        refusal.as_deref().is_some_and(|l| l.contains("535")),
        "the AUTH refusal (535) is reported as permanent:\n{}",
        stderr(&out).lines().filter(|l| l.contains("kisha")).collect::<Vec<_>>().join("\n")
    );
    assert!(!everything.contains(secret), "the password leaked into the output");
    let status = kisha(&["status", "--json", "--config", setup.config.to_str().unwrap()]).await;
    assert!(!stdout(&status).contains(secret));
    for entry in walk(setup.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "the password was stored in {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn world_readable_password_files_and_world_writable_configs_are_refused() {
    let smtp_port = 2525;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("smtp-password");
    std::fs::write(&pw, "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mail = format!(
        "[mail]\nfrom = \"kisha@test.invalid\"\nto = [\"desk@test.invalid\"]\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nusername = \"desk\"\npassword_file = \"{}\"\n",
        pw.display()
    );
    let setup =
        Setup::new("", &mail, &feed_source("mod", "防衛省", "http://127.0.0.1:1/feed.xml"), &keyword_rule(&["x"]));
    let out = kisha(&["check", "--config", setup.config.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("world-readable password file"), "{}", stderr(&out));
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(kisha(&["check", "--config", setup.config.to_str().unwrap()]).await.status.success());

    std::fs::set_permissions(&setup.config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = kisha(&["check", "--config", setup.config.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("world-writable"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn source_health_appears_in_the_footer_once_when_it_turns_and_once_when_it_recovers() {
    let http = HttpServer::start().await;
    let good = |titles: &[&str]| {
        let mut html = String::from("<html><head><meta charset=\"utf-8\"></head><body><ul class=\"news\">");
        for (i, t) in titles.iter().enumerate() {
            html.push_str(&format!("<li><a href=\"/p/{i}-{}.html\">{t}</a></li>", t.len()));
        }
        Reply::file("text/html; charset=UTF-8", html + "</ul></body></html>")
    };
    http.set("/news.html", good(&["既存の発表"]));
    http.set("/broken.xml", Reply::status(503));
    http.set("/feed.xml", Reply::file("application/rss+xml", feed_with(&http, &titles("基", 1))));
    let smtp = SmtpSink::start();
    let sources = feed_source("feed", "防衛省", &http.url("/feed.xml"))
        + &feed_source("broken", "法務省", &http.url("/broken.xml"))
        + &format!(
            "[[source]]\nid = \"page\"\nname = \"外務省\"\nkind = \"page\"\nurl = \"{}\"\nitem = \"ul.news li\"\n",
            http.url("/news.html")
        );
    let setup = Setup::new("", &smtp_mail(smtp.port), &sources, &keyword_rule(&["防衛相会談"]));
    let publish = |n: usize| {
        let all: Vec<String> = (0..=n).flat_map(|k| titles(&format!("第{k}回"), 1)).collect();
        http.set("/feed.xml", Reply::file("application/rss+xml", feed_with(&http, &all)));
    };
    let footer = |m: &smtp::Mail| m.text.split("Source health:").nth(1).unwrap_or("").to_owned();

    // Three failures in a row make `broken` unhealthy, and the page is
    // redesigned (its selector now matches nothing). (Mojibake is flagged the
    // same way; tests/it/hostile.rs covers its detection.)
    once(&setup).await; // baseline
    for _ in 0..2 {
        let _ = kisha(&send_now(&setup)).await;
    }
    http.set(
        "/news.html",
        Reply::file(
            "text/html",
            "<html><body><div class=\"new-layout\"><a href=\"/x\">新デザイン</a></div></body></html>",
        ),
    );
    publish(1);
    kisha(&send_now(&setup)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let first = footer(&mails[0]);
    assert!(first.contains("法務省 (broken) is unhealthy") && first.contains("503"), "{}", mails[0].text);
    assert!(first.contains("外務省 (page) is unhealthy") && first.contains("ul.news li"), "{first}");

    // Still failing: the next digests do not repeat it.
    publish(2);
    kisha(&send_now(&setup)).await;
    assert_eq!(smtp.messages().len(), 2);
    assert!(!smtp.messages()[1].text.contains("Source health"), "{}", smtp.messages()[1].text);

    // Both recover: said once.
    http.set("/broken.xml", Reply::file("application/rss+xml", feed_with(&http, &titles("法", 1))));
    http.set("/news.html", good(&["既存の発表", "新しい発表"]));
    publish(3);
    kisha(&send_now(&setup)).await;
    let last = footer(&smtp.messages()[2]);
    assert!(last.contains("法務省 (broken) recovered") && last.contains("外務省 (page) recovered"), "{last}");
    publish(4);
    kisha(&send_now(&setup)).await;
    assert!(!smtp.messages()[3].text.contains("Source health"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_listing_is_recorded_again_and_what_it_held_is_not_mailed() {
    let (http, smtp, setup) = serving(|http| feed_with(http, &titles("一", 2))).await;
    let config = setup.config.to_str().unwrap().to_owned();
    let out = kisha(&send_now(&setup)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(smtp.messages().len(), 1, "first_run = \"mail\": the first poll mails");

    // A disk fault cuts the source's listing record.
    cut_listing(&setup, |_| vec![0; 21]);
    let check = kisha(&["store", "check", "--config", &config]).await;
    assert!(!check.status.success() && stdout(&check).contains("listing of `mod`"), "{}", stdout(&check));

    // The next poll records the listing again and queues none of its items,
    // old or new (they cannot be told apart), but a notice that says so.
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &[titles("一", 2), titles("二", 1)].concat())));
    let out = kisha(&send_now(&setup)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("recording the listing again"), "{}", stderr(&out));
    assert_eq!(smtp.messages().len(), 1, "a notice alone waits for the next digest");

    // The source is whole again: the next new item is news, alone, with the
    // notice in the digest's footer.
    let three = [titles("一", 2), titles("二", 1), titles("三", 1)].concat();
    http.set(FEED, Reply::file("application/rss+xml", feed_with(&http, &three)));
    let out = kisha(&send_now(&setup)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "{}", stderr(&out));
    let (body, footer) = mails[1].text.split_once("Source health:").expect("a footer");
    assert!(body.contains("三防衛相会談0"), "{}", mails[1].text);
    assert!(!body.contains("二防衛相会談0") && !body.contains("一防衛相会談0"), "{}", mails[1].text);
    assert!(footer.contains("防衛省 (mod) at ") && footer.contains("stored listing could not be read"), "{footer}");
    assert!(!footer.contains("unhealthy since"), "a one-off is no state that a recovery ends: {footer}");
    let check = kisha(&["store", "check", "--config", &config]).await;
    assert!(check.status.success(), "{}{}", stdout(&check), stderr(&check));
}

/// Replaces the stored listing of source `mod` with what `cut` makes of it.
fn cut_listing(setup: &Setup, cut: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let db = sled::open(setup.state().join("db")).unwrap();
    let listings = db.open_tree("listings").unwrap();
    let stored = listings.get("mod").unwrap().expect("a stored listing").to_vec();
    listings.insert("mod", cut(stored)).unwrap();
    db.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn what_left_a_listing_cut_short_keeps_its_record() {
    let first = [("a0", "一防衛相会談0"), ("a1", "一防衛相会談1"), ("a2", "一防衛相会談2")];
    let (http, smtp, setup) = serving(|http| feed_of(http, &first)).await;
    let config = setup.config.to_str().unwrap().to_owned();
    kisha(&send_now(&setup)).await;
    assert_eq!(smtp.messages().len(), 1, "first_run = \"mail\": the first poll mails");
    // The record loses its last byte: its last entry (a2) cannot be read.
    cut_listing(&setup, |mut bytes| {
        bytes.pop();
        bytes
    });

    // a0 and a1 leave the listing while it is recorded again...
    http.set(FEED, Reply::file("application/rss+xml", feed_of(&http, &[("b0", "二防衛相会談0")])));
    let out = kisha(&send_now(&setup)).await;
    assert!(stderr(&out).contains("recording the listing again"), "{}", stderr(&out));
    let check = kisha(&["store", "check", "--config", &config]).await;
    assert!(check.status.success(), "the listing is whole again: {}", stdout(&check));
    // ...and a0 coming back is not news.
    let back = [("a0", "一防衛相会談0"), ("b0", "二防衛相会談0")];
    http.set(FEED, Reply::file("application/rss+xml", feed_of(&http, &back)));
    let out = kisha(&send_now(&setup)).await;
    assert!(!stderr(&out).contains("recording the listing again"), "{}", stderr(&out));
    assert_eq!(smtp.messages().len(), 1, "nothing mailed twice: {}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_listing_is_written_again_even_when_the_answer_lists_nothing() {
    let (http, _smtp, setup) = serving(|http| feed_of(http, &[("a0", "一防衛相会談0")])).await;
    let config = setup.config.to_str().unwrap().to_owned();
    kisha(&send_now(&setup)).await;
    cut_listing(&setup, |_| vec![0; 21]);
    let mut warnings = 0;
    for round in 0..2 {
        let empty = format!("<rss version=\"2.0\"><channel><title>{round}</title></channel></rss>");
        http.set(FEED, Reply::file("application/rss+xml", empty.into_bytes()));
        let out = kisha(&send_now(&setup)).await;
        warnings += stderr(&out).matches("recording the listing again").count();
    }
    assert_eq!(warnings, 1, "the record is written again at the first poll");
    let check = kisha(&["store", "check", "--config", &config]).await;
    assert!(check.status.success(), "{}", stdout(&check));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_cut_short_is_no_site_move_when_titles_repeat() {
    // Weekly press conferences: one title, four pages.
    let title = "防衛大臣記者会見";
    let weekly = [("a0", title), ("a1", title), ("a2", title), ("a3", title)];
    let (http, _smtp, setup) = serving(|http| feed_of(http, &weekly)).await;
    kisha(&send_now(&setup)).await;
    // Only the first entry can be read after the cut.
    cut_listing(&setup, |bytes| {
        let keep = (1..bytes.len()).rev().find(|&n| kisha::store::listing::readable(&bytes[..n]).len() == 1);
        bytes[..keep.expect("a cut that keeps one entry")].to_vec()
    });
    // a0 leaves; a1 to a3, from the lost part, are still listed.
    let later = [("a1", title), ("a2", title), ("a3", title), ("b0", "二防衛相会談0")];
    http.set(FEED, Reply::file("application/rss+xml", feed_of(&http, &later)));
    let out = kisha(&send_now(&setup)).await;
    assert!(stderr(&out).contains("recording the listing again"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("reappeared under new URLs"), "no URL moved: {}", stderr(&out));
}
