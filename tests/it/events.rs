//! Events across ministries: the seed day as one event with its facts, a late
//! release mailed as an update to the event, `kisha events`, the fallback
//! when a release page answers 403, and `kisha inspect`.

use crate::util::*;

const KANTEI: &str = "/index-jnews.rdf";
const MOD: &str = "/j/rss/news.xml";
const MOFA: &str = "/mofaj/press/release/index.html";
const KANTEI_PAGE: &str = "/jp/98_abe/actions/201806/29hyoukei.html";
const MOD_PAGE: &str = "/j/approach/exchange/area/2018/20180629_usa-j.html";
const MOFA_PAGE: &str = "/mofaj/na/na1/us/page4_004150.html";

fn rss(http: &HttpServer, items: &[(&str, &str, &str)]) -> Reply {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>");
    for (title, path, date) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>{}</link><pubDate>{date}</pubDate></item>",
            http.url(path)
        ));
    }
    Reply::file("application/rss+xml", xml + "</channel></rss>")
}

fn mofa_listing(items: &[(&str, &str, &str)]) -> Reply {
    let mut html = String::from("<html><body><div id=\"pressrelease\"><dl class=\"title-list\">");
    for (heading, title, path) in items {
        html.push_str(&format!("<dt class=\"list-title\">{heading}</dt><dd><ul class=\"link-list\"><li><a href=\"{path}\">{title}</a></li></ul></dd>"));
    }
    Reply::file("text/html; charset=UTF-8", html + "</dl></div></body></html>")
}

fn sources(http: &HttpServer) -> String {
    feed_source("kantei", "首相官邸", &http.url(KANTEI))
        + &feed_source("mod", "防衛省", &http.url(MOD))
        + &mofa_source(&http.url(MOFA))
}

const PRESET: &str = "[[rule]]\nid = \"defense-meeting\"\npreset = \"jp-defense-meeting\"\n";

fn serve_pages(http: &HttpServer) {
    http.set(KANTEI_PAGE, Reply::file("text/html; charset=UTF-8", fixture("releases/seed-kantei-20180629.html")));
    http.set(MOD_PAGE, Reply::file("text/html; charset=UTF-8", fixture("releases/seed-mod-20180629.html")));
    http.set(MOFA_PAGE, Reply::file("text/html; charset=UTF-8", fixture("releases/seed-mofa-20180629.html")));
}

fn kantei_item() -> (&'static str, &'static str, &'static str) {
    ("マティス米国防長官による表敬", KANTEI_PAGE, "29 Jun 2018 18:00:00 +0900")
}

fn mod_item() -> (&'static str, &'static str, &'static str) {
    ("日米防衛相会談", MOD_PAGE, "Fri, 29 Jun 2018 17:30:00 +0900")
}

const MOFA_ITEM: (&str, &str, &str) = ("6月29日付", "河野外務大臣とマティス米国国防長官との会談", MOFA_PAGE);

async fn baseline(http: &HttpServer, smtp: &SmtpSink) -> Setup {
    http.set(KANTEI, rss(http, &[("高市総理は行事に出席しました", "/jp/x.html", "20 Aug 2026 03:13:00 +0900")]));
    http.set(
        MOD,
        rss(http, &[("政府専用機の運航について", "/j/press/news/2026/08/17a.html", "Mon, 17 Aug 2026 18:03:10 +0900")]),
    );
    http.set(MOFA, mofa_listing(&[("8月19日付", "駐日大使信任状捧呈", "/mofaj/press/release/p1.html")]));
    serve_pages(http);
    let setup = Setup::new("", &smtp_mail(smtp.port), &sources(http), PRESET);
    once(&setup).await;
    assert!(smtp.messages().is_empty());
    setup
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_day_is_one_event_with_three_sources_and_their_facts() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let setup = baseline(&http, &smtp).await;
    http.set(
        KANTEI,
        rss(&http, &[kantei_item(), ("高市総理は行事に出席しました", "/jp/x.html", "20 Aug 2026 03:13:00 +0900")]),
    );
    http.set(
        MOD,
        rss(
            &http,
            &[
                mod_item(),
                ("政府専用機の運航について", "/j/press/news/2026/08/17a.html", "Mon, 17 Aug 2026 18:03:10 +0900"),
            ],
        ),
    );
    http.set(MOFA, mofa_listing(&[MOFA_ITEM, ("8月19日付", "駐日大使信任状捧呈", "/mofaj/press/release/p1.html")]));
    once(&setup).await;

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let text = &mails[0].text;
    assert!(text.contains("1 event, 3 new releases"), "ONE event:\n{text}");
    for line in [
        "■ 日米防衛相会談",
        "When:   2018-06-29 (Fri), 09:15 JST, about 65 min",
        "Where:  防衛省",
        "Points: 北朝鮮 · 地域情勢等 · 防衛装備分野における取組 · 在日米軍",
        "- 防衛省: 日米防衛相会談, 2018-06-29 (Fri)",
        "meeting · 09:15 · about 65 min · 防衛省",
        "- 外務省: 河野外務大臣とマティス米国国防長官との会談, 2018-06-29 (Fri)",
        "meeting · 12:35 · about 40 min",
        "- 首相官邸: マティス米国防長官による表敬, 2018-06-29 (Fri)",
        "courtesy call",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    for who in ["小野寺", "マティス", "河野太郎"] {
        assert!(text.contains(who), "{who} missing from Who:\n{text}");
    }
    assert!(mails[0].subject.contains("日米防衛相会談 (2018-06-29)"), "{}", mails[0].subject);
    // Every match says why.
    assert_eq!(text.matches("Why: ").count(), 3);
    // The HTML part carries the same, escaped, with no active content.
    let html = &mails[0].html;
    assert!(html.contains("09:15") && html.contains("防衛省") && !html.contains("<script"));

    let events = kisha(&["events", "--json", "--config", setup.config.to_str().unwrap()]).await;
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["country"], "US");
    assert_eq!(events[0]["releases"].as_array().unwrap().len(), 3);
    assert_eq!(events[0]["message_id"], mails[0].message_id.as_str());
    let listed = kisha(&["events", "--config", setup.config.to_str().unwrap(), "--since", "2018-06-30"]).await;
    assert!(stdout(&listed).contains("no events since 2018-06-30"), "{}", stdout(&listed));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_that_comes_a_day_later_is_an_update_to_its_event() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let setup = baseline(&http, &smtp).await;
    http.set(KANTEI, rss(&http, &[kantei_item()]));
    http.set(MOD, rss(&http, &[mod_item()]));
    once(&setup).await;
    let first = smtp.messages();
    assert_eq!(first.len(), 1);

    // The MOFA release comes later.
    http.set(MOFA, mofa_listing(&[MOFA_ITEM, ("8月19日付", "駐日大使信任状捧呈", "/mofaj/press/release/p1.html")]));
    once(&setup).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    let update = &mails[1];
    assert!(update.subject.contains("Update: 日米防衛相会談"), "{}", update.subject);
    assert_eq!(update.in_reply_to, first[0].message_id, "threaded under the first digest");
    assert!(update.text.contains("[Update to the event mailed"), "{}", update.text);
    assert!(
        update.text.contains("+ 外務省: 河野外務大臣とマティス米国国防長官との会談"),
        "the new release is marked:\n{}",
        update.text
    );
    assert!(
        update.text.contains("- 防衛省: 日米防衛相会談"),
        "the earlier ones are listed for context:\n{}",
        update.text
    );
    let events = kisha(&["events", "--json", "--config", setup.config.to_str().unwrap()]).await;
    let events: serde_json::Value = serde_json::from_slice(&events.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1, "still one event");
    assert_eq!(events[0]["releases"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_page_answering_403_still_makes_a_useful_entry() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let setup = baseline(&http, &smtp).await;
    let page = "/j/approach/exchange/area/2026/20260722_fra-j.html";
    http.set(page, Reply::status(403));
    http.set(MOD, rss(&http, &[("日仏防衛相会談について", page, "Wed, 22 Jul 2026 18:02:36 +0900")]));
    once(&setup).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let text = &mails[0].text;
    assert!(text.contains("日仏防衛相会談について") && text.contains(&http.url(page)), "{text}");
    assert!(text.contains("Page not read (server answered HTTP 403)"), "{text}");
    assert!(text.contains("2026-07-22"), "the date from the URL:\n{text}");
}

// Regression: a matched item whose release page nested 10^5 deep killed the
// process (stack overflow in the text walk, after minutes of parsing).
#[tokio::test(flavor = "multi_thread")]
async fn a_release_page_nested_impossibly_deep_is_refused_not_fatal() {
    let http = HttpServer::start().await;
    let smtp = SmtpSink::start();
    let setup = baseline(&http, &smtp).await;
    let page = "/j/approach/exchange/area/2026/20260722_fra-j.html";
    let deep =
        format!("<html><body>{}日仏防衛相会談{}</body></html>", "<div>".repeat(100_000), "</div>".repeat(100_000));
    http.set(page, Reply::file("text/html; charset=UTF-8", deep));
    http.set(MOD, rss(&http, &[("日仏防衛相会談について", page, "Wed, 22 Jul 2026 18:02:36 +0900")]));
    let out = once(&setup).await;
    assert!(!stderr(&out).contains("overflow"), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].text.contains("Page not read (the page nests elements deeper than 512 levels)"),
        "{}",
        mails[0].text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_prints_the_documented_json_shape() {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/releases/seed-mod-20180629.html");
    let out = kisha(&["inspect", page, "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let keys: Vec<&str> =
        text.lines().filter(|l| l.starts_with("  \"")).map(|l| l.trim().split('"').nth(1).unwrap()).collect();
    assert_eq!(keys, ["url", "title", "date", "matched", "rule", "why", "facts"], "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["matched"], true);
    assert_eq!(v["rule"], "defense-meeting");
    let f = &v["facts"];
    assert_eq!(
        (f["kind"].as_str(), f["date"].as_str(), f["start_time"].as_str()),
        (Some("meeting"), Some("2018-06-29"), Some("09:15"))
    );
    assert_eq!(
        (f["duration_minutes"].as_u64(), f["place"].as_str(), f["local_time"].as_bool()),
        (Some(65), Some("防衛省"), Some(false))
    );
    assert_eq!(f["counterpart_country"], "US");
    assert_eq!(f["topics"], serde_json::json!(["北朝鮮", "地域情勢等", "防衛装備分野における取組", "在日米軍"]));
    let people: Vec<(String, String)> = f["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["country"].as_str().unwrap().to_owned()))
        .collect();
    assert!(
        people.iter().any(|(n, c)| n.contains("小野寺") && c == "JP")
            && people.iter().any(|(n, c)| n.contains("マティス") && c == "US"),
        "{people:?}"
    );
    for p in f["participants"].as_array().unwrap() {
        let keys: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 3, "name, title, country: {p}");
    }

    // A source by id, with its pages followed: an array, one object per item; nothing changes.
    let http = HttpServer::start().await;
    serve_pages(&http);
    http.set(
        MOD,
        rss(
            &http,
            &[
                mod_item(),
                ("政府専用機の運航について", "/j/press/news/2026/08/17a.html", "Mon, 17 Aug 2026 18:03:10 +0900"),
            ],
        ),
    );
    http.set("/j/press/news/2026/08/17a.html", Reply::status(403));
    let setup = Setup::new(
        "",
        "[mail]\nfrom = \"k@t.invalid\"\nto = [\"d@t.invalid\"]\ntransport = \"file\"\n",
        &feed_source("mod", "防衛省", &http.url(MOD)),
        PRESET,
    );
    let out = kisha(&["inspect", "mod", "--config", setup.config.to_str().unwrap(), "--json", "--follow"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert_eq!(items[0]["matched"], true);
    assert_eq!(items[0]["facts"]["start_time"], "09:15");
    assert_eq!(items[1]["matched"], false);
    assert!(items[1]["facts"].is_null(), "a non-match's page is not fetched");
    assert!(!setup.state().exists(), "inspect changes no state");
}
