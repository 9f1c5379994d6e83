//! The pipeline end to end: the three flagship captures and the Shift_JIS RDF,
//! baseline, 304s, new items mailed, SMTP refusing then accepting, one source
//! failing while the others deliver, and the config check.

use crate::util::*;

const KANTEI: &str = "/index-jnews.rdf";
const MOD: &str = "/j/rss/news.xml";
const MOFA: &str = "/mofaj/press/release/index.html";
const MLIT: &str = "/pressrelease.rdf";

fn serve_flagship(http: &HttpServer) {
    http.set(KANTEI, Reply::file("application/rss+xml", fixture("captures/kantei.xml")));
    http.set(MOD, Reply::file("application/rss+xml", fixture("captures/mod.xml")));
    http.set(MOFA, Reply::file("text/html; charset=UTF-8", fixture("captures/mofa.html")));
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
}

fn flagship_sources(http: &HttpServer) -> String {
    feed_source("kantei", "首相官邸", &http.url(KANTEI))
        + &feed_source("mod", "防衛省", &http.url(MOD))
        + &mofa_source(&http.url(MOFA))
        + &feed_source("mlit", "国土交通省", &http.url(MLIT))
}

/// New items in all three flagship listings: a Kantei item with an empty link
/// (and positional guids that all shift), a MOD item with a relative link, a
/// MOFA item under a new dated heading.
fn publish_new_items(http: &HttpServer) {
    let kantei = insert_after(
        &fixture_text("captures/kantei.xml"),
        "</image>",
        "<item><title>高市総理はヘグセス米国防長官による表敬を受けました</title><link/><description/><pubDate>22 Aug 2026 10:00:00 +0900</pubDate><guid isPermaLink=\"false\">item_1</guid></item>\
         <item><title>高市総理は新任の駐日大使の信任状捧呈式に臨みました</title><link>https://www.kantei.go.jp/jp/105/actions/202608/22shinin.html</link><description/><pubDate>22 Aug 2026 09:00:00 +0900</pubDate><guid isPermaLink=\"false\">item_2</guid></item>",
    );
    http.set(KANTEI, Reply::file("application/rss+xml", kantei));
    let mod_feed = String::from_utf8_lossy(&fixture("captures/mod.xml")).into_owned();
    let mod_feed = insert_after(
        &mod_feed,
        "<!-- ENTRIES -->\r\n",
        "<item><title>日仏防衛相会談について</title><link>/j/approach/exchange/area/2026/20260822_fra-j.html</link><guid isPermaLink=\"true\">/j/approach/exchange/area/2026/20260822_fra-j.html</guid><pubDate>Sat, 22 Aug 2026 18:02:36 +0900</pubDate><description></description></item>\r\n",
    );
    http.set(MOD, Reply::file("application/rss+xml", mod_feed));
    let mofa = insert_after(
        &fixture_text("captures/mofa.html"),
        "<dl class=\"title-list\">",
        "<dt class=\"list-title\">8月21日付</dt><dd><ul class=\"link-list\"><li><a href=\"/mofaj/na/na1/us/pageit_000001_09999.html\">茂木外務大臣とヘグセス米国防長官との会談</a></li></ul></dd>",
    );
    http.set(MOFA, Reply::file("text/html; charset=UTF-8", mofa));
}

#[tokio::test(flavor = "multi_thread")]
async fn flagship_sources_baseline_then_304_then_only_new_matches_are_mailed() {
    let http = HttpServer::start().await;
    serve_flagship(&http);
    let smtp = SmtpSink::start();
    let setup =
        Setup::new("", &smtp_mail(smtp.port), &flagship_sources(&http), &keyword_rule(&["防衛相会談", "国防長官"]));

    // Cycle 1 is the baseline: the listings hold matching items already, none is mailed.
    let out = once(&setup).await;
    assert!(smtp.messages().is_empty(), "the baseline mailed something:\n{}", stdout(&out));
    assert!(stdout(&out).contains("Baseline"), "{}", stdout(&out));

    // Cycle 2: nothing changed; every request is conditional and answered 304.
    http.clear_hits();
    let out = once(&setup).await;
    let hits = http.hits();
    assert_eq!(hits.len(), 4, "{hits:?}");
    assert!(hits.iter().all(|h| h.conditional && h.status == 304), "{hits:?}");
    assert!(hits.iter().all(|h| h.user_agent.starts_with("kisha/")), "a real User-Agent: {hits:?}");
    assert!(stdout(&out).matches("NotModified").count() == 4, "{}", stdout(&out));
    assert!(smtp.messages().is_empty());

    // Cycle 3: new items appear; the matching ones go out in ONE digest.
    // (日仏防衛相会談について is already in the capture under another URL:
    // a recurring title is news, not a moved page.)
    publish_new_items(&http);
    once(&setup).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one digest, not one mail per item");
    let mail = &mails[0];
    assert_eq!(mail.content_type, "multipart/alternative");
    for title in [
        "高市総理はヘグセス米国防長官による表敬を受けました",
        "日仏防衛相会談について",
        "茂木外務大臣とヘグセス米国防長官との会談",
    ] {
        assert!(mail.text.contains(title), "text part lacks {title}:\n{}", mail.text);
        assert!(mail.html.contains(title), "html part lacks {title}");
    }
    // Relative links are resolved against the listing; each entry has its source and date.
    assert!(mail.text.contains(&http.url("/j/approach/exchange/area/2026/20260822_fra-j.html")), "{}", mail.text);
    assert!(mail.text.contains(&http.url("/mofaj/na/na1/us/pageit_000001_09999.html")));
    for name in ["首相官邸", "防衛省", "外務省"] {
        assert!(mail.text.contains(name), "source name {name} missing:\n{}", mail.text);
    }
    assert!(mail.text.contains("2026-08-22") && mail.text.contains("2026-08-21"), "dates:\n{}", mail.text);
    // The subject is readable Japanese, RFC 2047 on the wire.
    assert!(mail.subject.contains("防衛相会談") || mail.subject.contains("国防長官"), "{}", mail.subject);
    let subject_line = mail.raw_header_lines.iter().find(|l| l.starts_with("Subject: ")).unwrap();
    assert!(subject_line.is_ascii() && subject_line.contains("=?utf-8?b?"), "{subject_line}");
    // Not matching, not new: not mailed.
    assert!(!mail.text.contains("信任状捧呈式"), "a non-matching new item was mailed");
    assert!(!mail.text.contains("日豪防衛協力の強化に関する共同声明"), "an old item was quoted");

    // Cycle 4: the same listings again: nothing new, nothing mailed.
    once(&setup).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_304_is_not_rewritten_to_the_store_but_a_recovery_is() {
    let http = HttpServer::start().await;
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
    let mail = "[mail]\nfrom = \"k@t.invalid\"\nto = [\"d@t.invalid\"]\ntransport = \"file\"\n";
    let setup = Setup::new("", mail, &feed_source("mlit", "国土交通省", &http.url(MLIT)), &keyword_rule(&["x"]));
    let last_poll = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v["sources"][0]["last_poll"].as_str().unwrap().to_owned(), v["sources"][0]["consecutive_errors"].clone())
    };
    let args = ["status", "--json", "--config", setup.config.to_str().unwrap()];
    let status = || kisha(&args);
    once(&setup).await;
    let first = last_poll(&status().await);
    once(&setup).await; // a 304 on a healthy source, within the hour: nothing to write
    assert_eq!(last_poll(&status().await), first, "a quiet 304 rewrote the store");
    http.set(MLIT, Reply::status(500));
    once(&setup).await;
    assert_eq!(last_poll(&status().await).1, 1);
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
    once(&setup).await; // a 304 after a failure is a recovery: recorded
    assert_eq!(http.hits_on(MLIT).last().map(|h| h.status), Some(304), "the recovery was a 304");
    let (_, errors) = last_poll(&status().await);
    assert_eq!(errors, 0, "the recovery was recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn shift_jis_rdf_titles_come_out_exact() {
    let http = HttpServer::start().await;
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "first_run = \"mail\"",
        &smtp_mail(smtp.port),
        &feed_source("mlit", "国土交通省", &http.url(MLIT)),
        &keyword_rule(&["下水道", "気候変動"]),
    );
    once(&setup).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    // As a browser shows them: Shift_JIS 0x8160 is U+FF5E (～) in WHATWG's
    // Shift_JIS (windows-31j), which is what these sites are written in;
    // the ideographic space U+3000 is kept.
    for title in [
        "下水道管路のマネジメントに関する技術的事項の議論を行います～第７回下水道管路マネジメントのための技術基準等検討会を開催～",
        "「第２回　気候変動関連データの活用と適応に関する実践パネル」を開催します～気候変動関連データの利活用事例や課題について議論します～",
    ] {
        assert!(mails[0].text.contains(title), "exact Shift_JIS title missing: {title}\n{}", mails[0].text);
    }
    assert!(!mails[0].text.contains('\u{fffd}'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_positional_guid_that_shifts_is_not_news() {
    // Kantei numbers its guids by position: after one new item every guid moves.
    let http = HttpServer::start().await;
    http.set(KANTEI, Reply::file("application/rss+xml", fixture("captures/kantei.xml")));
    let smtp = SmtpSink::start();
    let setup = Setup::new(
        "",
        &smtp_mail(smtp.port),
        &feed_source("kantei", "首相官邸", &http.url(KANTEI)),
        &keyword_rule(&["総理"]),
    );
    once(&setup).await;
    let shifted = insert_after(
        &fixture_text("captures/kantei.xml"),
        "</image>",
        "<item><title>高市総理は新しい行事に出席しました</title><link>https://www.kantei.go.jp/jp/105/actions/202608/21new.html</link><pubDate>21 Aug 2026 10:00:00 +0900</pubDate><guid isPermaLink=\"false\">item_1</guid></item>",
    );
    http.set(KANTEI, Reply::file("application/rss+xml", shifted));
    let out = once(&setup).await;
    assert!(stdout(&out).contains("new: 1"), "{}", stdout(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("高市総理は新しい行事に出席しました"));
    assert!(!mails[0].text.contains("高市総理は全国戦没者追悼式に参列しました"), "an old item came back as new");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_source_is_recorded_while_the_others_deliver() {
    let http = HttpServer::start().await;
    serve_flagship(&http);
    let smtp = SmtpSink::start();
    let setup =
        Setup::new("first_run = \"mail\"", &smtp_mail(smtp.port), &flagship_sources(&http), &keyword_rule(&["下水道"]));
    http.set(MOD, Reply::status(500));
    let out = once(&setup).await;
    assert!(out.status.success(), "a failing source is not fatal");
    let log = stderr(&out);
    assert!(log.contains(&http.url(MOD)) && log.contains("500"), "the failure names the URL and the reason:\n{log}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "the other sources delivered");
    assert!(mails[0].text.contains("下水道"));
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_refusing_then_accepting_loses_nothing() {
    let http = HttpServer::start().await;
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
    let smtp = SmtpSink::start();
    smtp.set_mode("tempfail");
    let setup = Setup::new(
        "first_run = \"mail\"",
        &smtp_mail(smtp.port),
        &feed_source("mlit", "国土交通省", &http.url(MLIT)),
        &keyword_rule(&["下水道"]),
    );
    let out = once(&setup).await;
    assert!(stderr(&out).contains("451"), "{}", stderr(&out));
    assert!(smtp.messages().is_empty());

    // The server comes back; the next cycle (the backoff waived by --send-now) sends what was kept.
    smtp.set_mode("accept");
    let out = kisha(&["once", "--send-now", "--config", setup.config.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{}", stderr(&out));
    assert!(mails[0].text.contains("下水道管路のマネジメント"));
    // And nothing is sent twice.
    once(&setup).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_file_line_and_key() {
    let setup = Setup::new(
        "",
        "[mail]\nfrom = \"kisha@test.invalid\"\nto = [\"desk@test.invalid\"]\ntransport = \"file\"\n",
        "[[source]]\nid = \"mofa\"\nkind = \"page\"\nurl = \"https://www.mofa.go.jp/mofaj/press/release/index.html\"\nitem = \"ul >> li\"\n",
        "",
    );
    let out = kisha(&["check", "--config", setup.config.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    let line =
        std::fs::read_to_string(&setup.config).unwrap().lines().position(|l| l.starts_with("item =")).unwrap() + 1;
    let expected = format!("{}:{line}: source `mofa`: item: invalid CSS selector `ul >> li`", setup.config.display());
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_mails_the_seed_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = kisha(&["demo", "--dir", dir.path().to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for title in ["マティス米国防長官による表敬", "日米防衛相会談", "河野外務大臣とマティス米国国防長官との会談"]
    {
        assert!(text.contains(title), "{title} missing from the demo digest:\n{text}");
    }
    let eml: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(eml.len(), 1, "one .eml written");
    assert!(text.contains("not modified (304)"), "the unchanged MLIT feed answers 304:\n{text}");

    // As a user runs it (no RUST_LOG): the narration alone, no log lines between.
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
        .args(["demo", "--dir", dir.path().to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("INFO"), "the demo logs at info by default:\n{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_are_fetched_concurrently_but_at_most_per_host_at_once() {
    let http = HttpServer::start().await;
    let mut sources = String::new();
    for i in 0..8 {
        let path = format!("/slow/{i}.xml");
        let body = format!(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>T{i}</title><link>{}</link></item></channel></rss>",
            http.url(&format!("/p/{i}"))
        );
        http.set(
            &path,
            Reply::Slow(std::time::Duration::from_millis(300), Box::new(Reply::file("application/rss+xml", body))),
        );
        sources.push_str(&feed_source(&format!("s{i}"), "S", &http.url(&path)));
    }
    let mail = "[mail]\nfrom = \"k@t.invalid\"\nto = [\"d@t.invalid\"]\ntransport = \"file\"\n";
    for (per_host, expected) in [(2, 2), (1, 1), (8, 8)] {
        let setup = Setup::new("", mail, &sources, &keyword_rule(&["x"])).with_fetch(&format!("per_host = {per_host}"));
        http.clear_hits();
        once(&setup).await;
        assert_eq!(http.max_in_flight(), expected, "per_host = {per_host}");
        assert_eq!(http.hits().len(), 8);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_plain_text_with_source_url_and_rule_fields() {
    let http = HttpServer::start().await;
    http.set(MLIT, Reply::file("application/rdf+xml", fixture("captures/mlit.xml")));
    let mail = "[mail]\nfrom = \"k@t.invalid\"\nto = [\"d@t.invalid\"]\ntransport = \"file\"\n";
    let setup = Setup::new(
        "first_run = \"mail\"",
        mail,
        &feed_source("mlit", "国土交通省", &http.url(MLIT)),
        &keyword_rule(&["下水道"]),
    );
    let out = once(&setup).await;
    let log = stderr(&out);
    assert!(!log.contains('\u{1b}'), "no ANSI colour when stderr is not a terminal");
    let matched = log.lines().find(|l| l.contains("matched")).expect("a matched line");
    assert!(matched.contains("source=mlit") && matched.contains("rule=words") && matched.contains("url="), "{matched}");

    // log_level in the config quiets it; RUST_LOG wins over it.
    let quiet = Setup::new(
        "log_level = \"warn\"",
        mail,
        &feed_source("mlit", "国土交通省", &http.url(MLIT)),
        &keyword_rule(&["下水道"]),
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kisha"))
        .args(["once", "--config", quiet.config.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(!stderr(&out).contains(" INFO "), "{}", stderr(&out));
    let fresh = Setup::new(
        "log_level = \"warn\"",
        mail,
        &feed_source("mlit", "国土交通省", &http.url(MLIT)),
        &keyword_rule(&["下水道"]),
    );
    let loud = kisha(&["once", "--config", fresh.config.to_str().unwrap()]).await;
    assert!(stderr(&loud).contains(" INFO "), "RUST_LOG=info overrides log_level");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_is_news_once_across_sources_and_after_it_leaves_its_listing() {
    // The first item of the Kantei capture, as a second feed lists it later.
    const OLD_LINK: &str = "https://www.kantei.go.jp/jp/105/statement/2026/0819kaiken.html";
    const OLD_TITLE: &str = "高市総理はエルドアン・トルコ共和国大統領との電話会談及び国際刑事裁判所（ＩＣＣ）に対する米国の制裁についての会見を行いました";
    let rss = |items: &[(&str, &str)]| {
        let items: String = items
            .iter()
            .map(|(title, link)| format!("<item><title>{title}</title><link>{link}</link></item>"))
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
        )
    };
    let http = HttpServer::start().await;
    let kantei = fixture_text("captures/kantei.xml");
    let kantei_items = kantei.matches("<item>").count();
    http.set(KANTEI, Reply::file("application/rss+xml", kantei.clone()));
    http.set(
        "/topics.rss",
        Reply::file("application/rss+xml", rss(&[("お知らせ", "https://www.kantei.go.jp/jp/notice.html")])),
    );
    let smtp = SmtpSink::start();
    let sources = feed_source("kantei", "首相官邸", &http.url(KANTEI))
        + &feed_source("topics", "トピックス", &http.url("/topics.rss"));
    let setup = Setup::new("", &smtp_mail(smtp.port), &sources, &keyword_rule(&["総理"]));
    once(&setup).await;
    assert!(smtp.messages().is_empty(), "the baseline mails nothing");

    // The second feed lists Kantei's old item and a new one: only the new one is news.
    let new_title = "高市総理は新しい行事に出席しました";
    http.set(
        "/topics.rss",
        Reply::file(
            "application/rss+xml",
            rss(&[(new_title, "https://www.kantei.go.jp/jp/105/actions/202608/21new.html"), (OLD_TITLE, OLD_LINK)]),
        ),
    );
    let out = once(&setup).await;
    assert!(stdout(&out).contains("new: 1"), "{}", stdout(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains(new_title) && !mails[0].text.contains(OLD_TITLE), "{}", mails[0].text);

    // The old item leaves both listings, then comes back to Kantei's: still not news.
    let start = kantei.find("<item>").expect("an item");
    let end = start + kantei[start..].find("</item>").expect("its end") + "</item>".len();
    let without = format!("{}{}", &kantei[..start], &kantei[end..]);
    assert!(!without.contains(OLD_LINK));
    http.set(KANTEI, Reply::file("application/rss+xml", without));
    http.set(
        "/topics.rss",
        Reply::file("application/rss+xml", rss(&[("お知らせ", "https://www.kantei.go.jp/jp/notice.html")])),
    );
    once(&setup).await;
    http.set(KANTEI, Reply::file("application/rss+xml", kantei));
    let out = once(&setup).await;
    assert!(!stdout(&out).contains("new: 1"), "{}", stdout(&out));
    assert_eq!(smtp.messages().len(), 1, "no second mail");
    // Listed: Kantei's items and the notice. Each item that left a listing
    // has its record: the notice (out of the second feed for a cycle), the
    // old item and the new one.
    let check = kisha(&["store", "check", "--config", setup.config.to_str().unwrap()]).await;
    let expected = format!("{} listed items, 3 seen records", kantei_items + 1);
    assert!(check.status.success() && stdout(&check).contains(&expected), "{expected}: {}", stdout(&check));
}
