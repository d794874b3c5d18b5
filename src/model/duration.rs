//! Durations as playbooks write them (`30s`, `10m`, `1h30m`, `500ms`, ISO 8601 `PT5M`), read
//! with jiff's parser, which refuses anything it cannot read exactly.

use std::time::Duration;

/// Reads a positive duration; the error is a lowercase fragment for a label.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| "not a duration such as `30s`, `10m` or `1h30m`".to_owned())?;
    if signed.is_negative() {
        return Err("negative".to_owned());
    }
    if signed.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(signed.unsigned_abs())
}

/// A duration as a playbook writes it: `24h`, `90m`, `30s`, `1500ms`.
pub(crate) fn words(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        _ if ms > 0 && ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms > 0 && ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_and_iso_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("PT5M"), Ok(Duration::from_secs(300)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(
            parse_duration("10x"),
            Err("not a duration such as `30s`, `10m` or `1h30m`".to_owned())
        );
        assert_eq!(
            parse_duration("10"),
            Err("not a duration such as `30s`, `10m` or `1h30m`".to_owned())
        );
        assert_eq!(parse_duration("-5s"), Err("negative".to_owned()));
        assert_eq!(
            parse_duration("0s"),
            Err("must be longer than zero".to_owned())
        );
        assert!(parse_duration("").is_err());
    }
}
