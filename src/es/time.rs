//! Durations in Elasticsearch's time-value syntax (`30s`, `1500ms`), for `timeout` parameters.

use std::time::Duration;

/// Renders a duration the way Elasticsearch parses it: whole seconds as `Ns`, anything finer as
/// `Nms`. Never forwards a user's own text ("1h 30m" is not a valid ES time value).
pub(crate) fn es_time(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_use_s_and_the_rest_ms() {
        assert_eq!(es_time(Duration::from_secs(1800)), "1800s");
        assert_eq!(es_time(Duration::from_millis(1500)), "1500ms");
        assert_eq!(es_time(Duration::ZERO), "0s");
    }
}
