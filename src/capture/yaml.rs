//! The two YAML spellings a generated playbook needs: a scalar that reads back as the same
//! string (plain when YAML 1.1 or 1.2 could not take it for anything else, double-quoted
//! otherwise), and a comment line that cannot end early or smuggle in a key.

/// `text` as a YAML scalar that every YAML reader takes as this exact string.
pub(super) fn scalar(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same escapes.
        serde_json::Value::String(text.to_owned()).to_string()
    }
}

/// `text` on one comment line: control characters (newlines first) become spaces.
pub(super) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Words that YAML 1.1 (still read by many tools) or 1.2 resolve to a boolean or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let looks_numeric = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && text[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let reserved = RESERVED.contains(&text.to_ascii_lowercase().as_str())
        || text.to_ascii_lowercase().trim_start_matches(['+', '-']) == ".inf"
        || text.eq_ignore_ascii_case(".nan");
    let breaks = text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.ends_with(' ')
        || text.starts_with(' ')
        || text.chars().any(|c| c.is_control() || c == '\\');
    !(looks_numeric || indicator || reserved || breaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_when_unambiguous() {
        for text in [
            "web-latency",
            "datafeed-1e3",
            "a_b",
            "${ES_URL:-http://h:9200}",
        ] {
            assert_eq!(scalar(text), text);
        }
    }

    #[test]
    fn quoted_when_yaml_would_read_something_else() {
        for text in [
            "no",
            "No",
            "y",
            "on",
            "off",
            "true",
            "null",
            "~",
            "1e3",
            "0755",
            "1_000",
            "0x1f",
            "-1",
            ".5",
            ".inf",
            "-.inf",
            ".nan",
            "",
            "a: b",
            "a #b",
            "key:",
            "*x",
            "- x",
            " x",
            "tab\there",
            "back\\slash",
        ] {
            let quoted = scalar(text);
            assert!(quoted.starts_with('"'), "{text:?} -> {quoted}");
            let back: String = serde_json::from_str(&quoted).expect("a JSON string");
            assert_eq!(back, text);
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_text("a\nb\r\tc"), "a b  c");
    }
}
