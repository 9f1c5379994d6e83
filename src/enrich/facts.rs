//! Facts from a release's text: kind, date, time, duration, place,
//! participants, counterpart and topics.

use super::{Kind, Release, ReleasePage};
use crate::dates::date_in_url;
use crate::extract::Item;
use crate::text::fold;

/// The facts of `item`, from its page when there is one.
pub fn extract(item: &Item, page: Option<&ReleasePage>) -> Release {
    let title = page.and_then(|p| p.title.as_deref()).unwrap_or(&item.title);
    let t = fold(title);
    let kind = if t.contains("2+2") || t.contains("安全保障協議委員会") || t.contains("外務・防衛閣僚") {
        Kind::TwoPlusTwo
    } else if t.contains("電話") || t.contains("telephone") {
        Kind::Telephone
    } else if t.contains("テレビ") || t.contains("video") {
        Kind::Video
    } else if t.contains("表敬") || t.contains("courtesy call") {
        Kind::CourtesyCall
    } else if t.contains("会談") || t.contains("meeting") {
        Kind::Meeting
    } else {
        Kind::Other
    };
    let date = page
        .and_then(|p| p.date)
        .or_else(|| item.url.as_deref().and_then(date_in_url))
        .or(item.date);
    Release {
        kind,
        date,
        start_time: None,
        local_time: false,
        duration_minutes: None,
        place: None,
        participants: Vec::new(),
        counterpart_country: None,
        topics: Vec::new(),
        unread: None,
    }
}
