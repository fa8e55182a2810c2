//! Date-times as credentials write them (XML Schema `dateTime`, in
//! practice RFC 3339 with a zone: `2026-11-30T12:00:00Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch of an RFC 3339 date-time.
pub fn parse(text: &str) -> Result<i64, String> {
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 date-time with a zone: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The RFC 3339 form (UTC, whole seconds) of a time in Unix milliseconds.
pub fn format(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        let ms = super::parse("2026-11-30T12:00:00Z").unwrap();
        assert_eq!(super::format(ms), "2026-11-30T12:00:00Z");
        assert_eq!(super::parse("2026-11-30T13:00:00+01:00").unwrap(), ms);
        for bad in ["", "2026-11-30", "2026-11-30T12:00:00", "yesterday"] {
            assert!(super::parse(bad).is_err(), "{bad}");
        }
    }
}
