//! The size caps on what users may store and what the service writes back out. Anyone who
//! can log in can type into the settings and webhook forms, and whatever is accepted is
//! stored, copied into the outbox on every matching event, logged with every delivery and
//! read back by the dashboard: without a cap, one request of a couple of megabytes is
//! multiplied by every event and every retry (issue 8 measured a gigabyte of database and
//! gigabytes of memory in twenty seconds). The caps are generous for any real use; the
//! figures are documented in `docs/api.md`, `docs/webhooks.md` and `docs/screen-pop.md`, and
//! the dashboard's inputs carry the same `maxlength`.
//!
//! Two kinds: input caps refuse (a 400 naming the field: the user decides what to cut), and
//! output caps `clip` text the service writes itself (an error text, a logged URL), where
//! refusing is not an option and the end of the text is the least useful part.

/// A webhook or screen-pop URL, in bytes (2 KiB): far beyond any CRM's lookup address.
pub const URL_BYTES: usize = 2048;
/// A webhook endpoint's description, in characters.
pub const DESCRIPTION_CHARS: usize = 200;
/// Entries of a list of OVH numbers (the screen pop's `numbers`).
pub const NUMBERS: usize = 500;
/// One OVH number, in bytes: OVH writes them `0033972101010` (13); room for any prefix.
pub const NUMBER_BYTES: usize = 32;
/// Entries of a list of event names: more than there are event types, so any real choice fits.
pub const EVENTS: usize = 32;
/// Webhook endpoints per token: enough for any CRM set-up, not a resource to exhaust.
pub const ENDPOINTS_PER_TOKEN: usize = 20;
/// A time-zone name (the longest in the tz database is about 30 bytes).
pub const TIMEZONE_BYTES: usize = 64;
/// An error text stored with a delivery (the log's `error`), in bytes.
pub const ERROR_TEXT_BYTES: usize = 512;
/// A URL stored in the delivery log, in bytes: a screen pop's filled URL may be longer than
/// its template, by the values put into it.
pub const LOGGED_URL_BYTES: usize = URL_BYTES + 256;
/// A message an API error answers with, in bytes: some quote what they refuse.
pub const API_MESSAGE_BYTES: usize = 400;
/// A refused value quoted back in an error message, in characters.
const QUOTED_CHARS: usize = 40;

/// `text` cut to at most `max` bytes on a character boundary, with `…` marking the cut.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let ellipsis = '…';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end]).into()
}

/// A refused value as an error message may quote it: `{:?}`-quoted, and cut short, so that
/// a message never grows with what was sent.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}…", &value[..end]),
    }
}

/// The message for a URL over `URL_BYTES`.
pub fn url_too_long(len: usize) -> String {
    format!("the address is {len} bytes long; at most {URL_BYTES} (2 KiB) are accepted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        let cut = clip("ééééé", 6);
        assert!(cut.len() <= 6 && cut.ends_with('…'), "{cut}");
        assert_eq!(clip(&"x".repeat(10_000), 100).len(), 100);
    }

    #[test]
    fn quoted_values_are_bounded() {
        assert_eq!(quoted("ring"), "\"ring\"");
        let long = quoted(&"a".repeat(1_000_000));
        assert!(long.len() < 50 && long.ends_with('…'), "{long}");
    }
}
