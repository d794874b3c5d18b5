//! Dates in request parameters as ES parses `start`/`end` of start datafeed:
//! `strict_date_optional_time||epoch_millis` plus `now` date math.

use jiff::Timestamp;

/// ES's `strict_date_optional_time||epoch_millis` with `now` date math, in epoch milliseconds.
pub(crate) fn parse_date(text: &str, now: Timestamp) -> Option<i64> {
    if let Some(math) = text.strip_prefix("now") {
        return apply_date_math(now.as_millisecond(), math);
    }
    if text.len() != 4 && !text.is_empty() {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return text.parse::<i64>().ok();
        }
    }
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp.as_millisecond());
    }
    let civil = if text.len() == 4 {
        jiff::civil::date(text.parse().ok()?, 1, 1).to_datetime(jiff::civil::Time::midnight())
    } else if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        datetime
    } else {
        text.parse::<jiff::civil::Date>()
            .ok()?
            .to_datetime(jiff::civil::Time::midnight())
    };
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}

/// `+1h`, `-30m`, `-1d+2h`: adds or subtracts fixed units (y, M, w, d, h/H, m, s).
fn apply_date_math(mut millis: i64, mut math: &str) -> Option<i64> {
    while !math.is_empty() {
        let sign = match math.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        math = &math[1..];
        let digits = math.bytes().take_while(u8::is_ascii_digit).count();
        let amount: i64 = if digits == 0 {
            1
        } else {
            math[..digits].parse().ok()?
        };
        math = &math[digits..];
        let unit = math.chars().next()?;
        math = &math[unit.len_utf8()..];
        let unit_millis: i64 = match unit {
            'y' => 365 * 86_400_000,
            'M' => 30 * 86_400_000,
            'w' => 7 * 86_400_000,
            'd' => 86_400_000,
            'h' | 'H' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => return None,
        };
        millis = millis.checked_add(sign * amount.checked_mul(unit_millis)?)?;
    }
    Some(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_es_formats() {
        let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let now_ms = now.as_millisecond();
        assert_eq!(parse_date("1485061200000", now), Some(1_485_061_200_000));
        assert_eq!(parse_date("0", now), Some(0));
        assert_eq!(
            parse_date("2017-01-22T06:00:00.000Z", now),
            Some(1_485_064_800_000)
        );
        assert_eq!(
            parse_date("2017-01-22T06:00:00+00:00", now),
            Some(1_485_064_800_000)
        );
        assert_eq!(parse_date("2017-01-22", now), Some(1_485_043_200_000));
        assert_eq!(parse_date("2017", now), Some(1_483_228_800_000));
        assert_eq!(parse_date("now", now), Some(now_ms));
        assert_eq!(parse_date("now-1h", now), Some(now_ms - 3_600_000));
        assert_eq!(
            parse_date("now+2d-30m", now),
            Some(now_ms + 172_800_000 - 1_800_000)
        );
        assert_eq!(parse_date("yesterday", now), None);
        assert_eq!(parse_date("now-1x", now), None);
    }
}
