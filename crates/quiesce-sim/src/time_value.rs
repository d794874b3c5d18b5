//! ES time values (`30s`, `20m`, `-1`): parsing with ES's error texts (`TimeValue.parseTimeValue`)
//! and rendering exactly like Java's `TimeValue.toString()`, which appears verbatim in
//! reasons such as `Timed out when waiting for persistent tasks after 30m`.

use std::fmt;
use std::time::Duration;

use super::EsError;

/// The unit a [`TimeValue`] was given in; ES keeps it, though only nanoseconds matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Nanos,
    Micros,
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    fn nanos(self) -> i64 {
        match self {
            Unit::Nanos => 1,
            Unit::Micros => C1,
            Unit::Millis => C2,
            Unit::Seconds => C3,
            Unit::Minutes => C4,
            Unit::Hours => C5,
            Unit::Days => C6,
        }
    }
}

const C1: i64 = 1_000;
const C2: i64 = C1 * 1_000;
const C3: i64 = C2 * 1_000;
const C4: i64 = C3 * 60;
const C5: i64 = C4 * 60;
const C6: i64 = C5 * 24;

/// A time value as ES holds it: an amount and a unit; `-1` means "no timeout / infinite".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeValue {
    amount: i64,
    unit: Unit,
}

impl TimeValue {
    /// `-1`, ES's "minus one" (no limit).
    pub(crate) const MINUS_ONE: TimeValue = TimeValue {
        amount: -1,
        unit: Unit::Millis,
    };

    /// A value in milliseconds.
    pub(crate) fn from_millis(millis: i64) -> TimeValue {
        TimeValue {
            amount: millis,
            unit: Unit::Millis,
        }
    }

    /// Parses like ES `TimeValue.parseTimeValue(value, setting)`; errors are ES's 400s.
    pub(crate) fn parse(value: &str, setting: &str) -> Result<TimeValue, EsError> {
        let normalized = value.trim().to_ascii_lowercase();
        const SUFFIXES: [(&str, Unit); 7] = [
            ("nanos", Unit::Nanos),
            ("micros", Unit::Micros),
            ("ms", Unit::Millis),
            ("s", Unit::Seconds),
            ("m", Unit::Minutes),
            ("h", Unit::Hours),
            ("d", Unit::Days),
        ];
        for (suffix, unit) in SUFFIXES {
            if let Some(number) = normalized.strip_suffix(suffix) {
                let amount = parse_amount(value, number.trim(), setting)?;
                return Ok(TimeValue { amount, unit });
            }
        }
        match normalized.as_str() {
            "-1" => Ok(TimeValue::MINUS_ONE),
            "0" => Ok(TimeValue::from_millis(0)),
            _ => Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!(
                    "failed to parse setting [{setting}] with value [{value}] as a time value: \
                     unit is missing or unrecognized"
                ),
            )),
        }
    }

    /// The span, or `None` for `-1` (no limit).
    pub(crate) fn duration(&self) -> Option<Duration> {
        let nanos = self.nanos()?;
        Some(Duration::from_nanos(u64::try_from(nanos).ok()?))
    }

    fn nanos(&self) -> Option<i64> {
        if self.amount < 0 {
            return None;
        }
        Some(self.amount.saturating_mul(self.unit.nanos()))
    }
}

fn parse_amount(original: &str, number: &str, setting: &str) -> Result<i64, EsError> {
    match number.parse::<i64>() {
        Ok(amount) if amount < -1 => Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "failed to parse setting [{setting}] with value [{original}] as a time value: \
                 negative durations are not supported"
            ),
        )),
        Ok(amount) => Ok(amount),
        Err(_) => {
            let cause = format!("For input string: \"{number}\"");
            let reason = if number.parse::<f64>().is_ok() {
                format!("failed to parse [{original}], fractional time values are not supported")
            } else {
                format!("failed to parse [{original}]")
            };
            Err(EsError::new(400, "illegal_argument_exception", reason)
                .caused_by("number_format_exception", cause))
        }
    }
}

impl fmt::Display for TimeValue {
    /// Java `TimeValue.toString()`: the largest unit the value reaches, one truncated fraction
    /// digit when it is not zero (`90s` → `1.5m`, `30m` → `30m`, `-1` → `-1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(nanos) = self.nanos() else {
            return write!(f, "{}", self.amount);
        };
        if nanos == 0 {
            return f.write_str("0s");
        }
        let (divisor, suffix) = [
            (C6, "d"),
            (C5, "h"),
            (C4, "m"),
            (C3, "s"),
            (C2, "ms"),
            (C1, "micros"),
        ]
        .into_iter()
        .find(|(unit, _)| nanos >= *unit)
        .unwrap_or((1, "nanos"));
        #[expect(
            clippy::cast_precision_loss,
            reason = "Java divides doubles the same way"
        )]
        let value = nanos as f64 / divisor as f64;
        write!(f, "{}{suffix}", java_one_fraction_digit(value))
    }
}

/// Java's `formatDecimal(value, 1)` over `Double.toString(value)`: the integral part, then one
/// fraction digit, truncated, unless it is `0`. A time value never reaches 10^7 of its display
/// unit (nanoseconds saturate at `i64::MAX`, 106751 days), so Java's exponent form cannot occur.
fn java_one_fraction_digit(value: f64) -> String {
    let text = format!("{value:?}");
    let (integral, fraction) = text.split_once('.').unwrap_or((text.as_str(), "0"));
    match fraction.chars().next() {
        Some(digit) if digit != '0' => format!("{integral}.{digit}"),
        _ => integral.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tv(text: &str) -> TimeValue {
        TimeValue::parse(text, "timeout").expect("valid time value")
    }

    #[test]
    fn parses_every_es_unit() {
        assert_eq!(tv("30s").duration(), Some(Duration::from_secs(30)));
        assert_eq!(tv("20m").duration(), Some(Duration::from_secs(1200)));
        assert_eq!(tv("1h").duration(), Some(Duration::from_secs(3600)));
        assert_eq!(tv("2d").duration(), Some(Duration::from_secs(172_800)));
        assert_eq!(tv("150ms").duration(), Some(Duration::from_millis(150)));
        assert_eq!(tv("7micros").duration(), Some(Duration::from_micros(7)));
        assert_eq!(tv("9nanos").duration(), Some(Duration::from_nanos(9)));
        assert_eq!(tv(" 5 S ").duration(), Some(Duration::from_secs(5)));
        assert_eq!(tv("0").duration(), Some(Duration::ZERO));
        assert_eq!(tv("-1").duration(), None);
        assert_eq!(tv("-1s").duration(), None);
    }

    #[test]
    fn renders_like_java() {
        assert_eq!(tv("30m").to_string(), "30m");
        assert_eq!(tv("90s").to_string(), "1.5m");
        assert_eq!(tv("1500ms").to_string(), "1.5s");
        assert_eq!(tv("100ms").to_string(), "100ms");
        assert_eq!(tv("20s").to_string(), "20s");
        assert_eq!(tv("61s").to_string(), "1m");
        assert_eq!(tv("119s").to_string(), "1.9m");
        assert_eq!(tv("36h").to_string(), "1.5d");
        assert_eq!(tv("0s").to_string(), "0s");
        assert_eq!(tv("-1").to_string(), "-1");
        assert_eq!(tv("24h").to_string(), "1d");
        // Nanoseconds saturate like Java's TimeUnit.toNanos.
        assert_eq!(tv("10000000d").to_string(), "106751.9d");
    }

    #[test]
    fn missing_unit_is_es_error() {
        let error = TimeValue::parse("30", "timeout").unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert_eq!(error.error_type(), Some("illegal_argument_exception"));
        assert_eq!(
            error.reason(),
            "failed to parse setting [timeout] with value [30] as a time value: unit is missing \
             or unrecognized"
        );
    }

    #[test]
    fn fractions_and_garbage_are_es_errors() {
        let error = TimeValue::parse("1.5m", "timeout").unwrap_err();
        assert_eq!(
            error.reason(),
            "failed to parse [1.5m], fractional time values are not supported"
        );
        let error = TimeValue::parse("xs", "timeout").unwrap_err();
        assert_eq!(error.reason(), "failed to parse [xs]");
        let error = TimeValue::parse("-5s", "timeout").unwrap_err();
        assert_eq!(
            error.reason(),
            "failed to parse setting [timeout] with value [-5s] as a time value: negative \
             durations are not supported"
        );
    }
}
