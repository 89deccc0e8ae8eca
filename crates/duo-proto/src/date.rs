//! The `Date` / `X-Duo-Date` header.
//!
//! The signature covers the header's exact text, so the format a client writes only has to be
//! stable; we write what `duo_client` writes (`email.utils.formatdate()`:
//! `Tue, 21 Aug 2012 17:29:18 -0000`, day zero-padded, literal `-0000`). A server must read every
//! client's form: `-0000` (Python), `GMT` (Node), `+0000` (Go, C#, chrono) and other numeric
//! offsets; [`parse_date`] accepts RFC 2822 with any of these.

use jiff::Timestamp;

/// Formats `at` as `duo_client` does: `Tue, 21 Aug 2012 17:29:18 -0000`.
pub fn format_date(at: Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S -0000").to_string()
}

/// Parses an RFC 2822 date as any Duo client writes it. `None` when it cannot be read (Duo then
/// answers 40104 `Missing request timestamp`).
pub fn parse_date(text: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_formatdate() {
        let at: Timestamp = "2012-12-07T17:18:00Z".parse().unwrap();
        assert_eq!(format_date(at), "Fri, 07 Dec 2012 17:18:00 -0000");
    }

    #[test]
    fn parses_every_clients_date_form() {
        let expected: Timestamp = "2012-08-21T17:29:18Z".parse().unwrap();
        for text in [
            "Tue, 21 Aug 2012 17:29:18 -0000",
            "Tue, 21 Aug 2012 17:29:18 GMT",
            "Tue, 21 Aug 2012 17:29:18 +0000",
            "Tue, 21 Aug 2012 19:29:18 +0200",
        ] {
            assert_eq!(parse_date(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn rejects_unreadable_dates() {
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("Di, 21 Aug 2012 17:29:18 -0000"), None);
        assert_eq!(parse_date("yesterday"), None);
    }
}
