//! Instants as pipelog stores and shows them: UTC, millisecond precision, ISO 8601.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with millisecond precision, stored as milliseconds since the Unix epoch
/// and shown as `2026-04-07T10:30:00.000Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(i64);

/// A string that is not an ISO 8601 date-time with an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an ISO 8601 date-time with a time zone, such as 2026-04-07T10:30:00Z, got `{0}`")]
pub struct InvalidTime(pub String);

impl UtcTime {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let elapsed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UtcTime(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }

    /// The instant `millis` milliseconds after the Unix epoch, if it is within the range
    /// pipelog can show (years -9999 to 9999).
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        jiff::Timestamp::from_millisecond(millis).ok()?;
        Some(UtcTime(millis))
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 / ISO 8601 date-time that carries its offset (`Z` or `+02:00`).
    /// Digits below the millisecond are dropped.
    pub fn parse(text: &str) -> Result<Self, InvalidTime> {
        let timestamp: jiff::Timestamp = text
            .trim()
            .parse()
            .map_err(|_| InvalidTime(text.to_owned()))?;
        UtcTime::of(timestamp, text)
    }

    /// The instant of `timestamp`, if pipelog can show it: jiff parses instants up to
    /// 9999-12-30T22:00:00.999999999Z, but shows milliseconds only up to .000 of that
    /// second, so the last 999 of them would make a time no answer could hold.
    fn of(timestamp: jiff::Timestamp, text: &str) -> Result<Self, InvalidTime> {
        UtcTime::from_unix_millis(timestamp.as_millisecond())
            .ok_or_else(|| InvalidTime(text.to_owned()))
    }

    /// Like [`UtcTime::parse`], but a date-time without an offset (`2026-01-01T00:00:00`) or a
    /// bare date (`2026-01-01`, midnight) is taken as UTC: for parameters the seeds document as
    /// "UTC datetime", which their clients often send without the `Z`.
    pub fn parse_assuming_utc(text: &str) -> Result<Self, InvalidTime> {
        if let Ok(time) = UtcTime::parse(text) {
            return Ok(time);
        }
        let trimmed = text.trim();
        let civil = trimmed
            .parse::<jiff::civil::DateTime>()
            .or_else(|_| {
                trimmed
                    .parse::<jiff::civil::Date>()
                    .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
            })
            .map_err(|_| InvalidTime(text.to_owned()))?;
        let timestamp = civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| InvalidTime(text.to_owned()))?
            .timestamp();
        UtcTime::of(timestamp, text)
    }

    /// The later of two instants.
    pub fn max(self, other: UtcTime) -> UtcTime {
        UtcTime(self.0.max(other.0))
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every `UtcTime` was built from a value jiff accepted, so this cannot fail.
        let timestamp = jiff::Timestamp::from_millisecond(self.0).map_err(|_| fmt::Error)?;
        write!(f, "{timestamp:.3}")
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        UtcTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_without_an_offset_can_be_taken_as_utc() {
        let utc = UtcTime::parse("2026-01-01T10:30:00Z").unwrap();
        assert_eq!(UtcTime::parse_assuming_utc("2026-01-01T10:30:00"), Ok(utc));
        assert_eq!(UtcTime::parse_assuming_utc("2026-01-01T10:30:00Z"), Ok(utc));
        assert_eq!(
            UtcTime::parse_assuming_utc("2026-01-01T12:30:00+02:00"),
            Ok(utc)
        );
        assert_eq!(
            UtcTime::parse_assuming_utc("2026-01-01")
                .unwrap()
                .to_string(),
            "2026-01-01T00:00:00.000Z"
        );
        assert!(UtcTime::parse_assuming_utc("last week").is_err());
        // The strict parser still wants the offset.
        assert!(UtcTime::parse("2026-01-01T10:30:00").is_err());
    }

    #[test]
    fn shows_milliseconds_and_z() {
        let time = UtcTime::parse("2026-04-07T10:30:00Z").unwrap();
        assert_eq!(time.to_string(), "2026-04-07T10:30:00.000Z");
        assert_eq!(time.unix_millis(), 1_775_557_800_000);
    }

    #[test]
    fn every_time_taken_can_be_shown() {
        let last = UtcTime::parse("9999-12-30T22:00:00Z").unwrap();
        assert_eq!(last.to_string(), "9999-12-30T22:00:00.000Z");
        let first = UtcTime::parse_assuming_utc("-009999-01-02T01:59:59").unwrap();
        assert_eq!(first.to_string(), "-009999-01-02T01:59:59.000Z");
    }

    #[test]
    fn parses_the_seeds_seven_digit_fractions_and_offsets() {
        let time = UtcTime::parse("2025-02-21T14:41:21.7820000Z").unwrap();
        assert_eq!(time.to_string(), "2025-02-21T14:41:21.782Z");
        let shifted = UtcTime::parse("2025-02-21T16:41:21.782+02:00").unwrap();
        assert_eq!(shifted, time);
    }

    #[test]
    fn rejects_times_without_a_zone_and_nonsense() {
        for text in [
            "2025-02-21T14:41:21",
            "yesterday",
            "",
            "2025-13-01T00:00:00Z",
            // Within jiff's range, but past the last millisecond pipelog can show.
            "9999-12-30T22:00:00.001Z",
        ] {
            let error = UtcTime::parse(text).unwrap_err();
            assert!(error.to_string().contains("ISO 8601"), "{text}: {error}");
        }
    }

    #[test]
    fn range_is_checked() {
        assert!(UtcTime::from_unix_millis(0).is_some());
        assert!(UtcTime::from_unix_millis(i64::MAX).is_none());
    }
}
