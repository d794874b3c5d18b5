//! Credentials for Elasticsearch: API key, basic, bearer. Secrets stay inside `SecretString`
//! and leave it only to become a sensitive header value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// How quiesce authenticates to the cluster.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// `Authorization: ApiKey <base64(id:key)>`.
    ApiKey(ApiKey),
    /// `Authorization: Basic <base64(user:password)>`.
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer <token>` (service account or OAuth token).
    Bearer(SecretString),
}

/// An API key in the form Elasticsearch expects on the wire: `base64(id:key)`.
///
/// Accepts either that encoded form (what Kibana and `POST _security/api_key` call `encoded`)
/// or the raw `id:key` pair, and encodes the latter.
#[derive(Clone)]
pub(crate) struct ApiKey(SecretString);

impl ApiKey {
    pub(crate) fn new(key: &str) -> ApiKey {
        let key = key.trim();
        if key.contains(':') {
            ApiKey(SecretString::from(STANDARD.encode(key)))
        } else {
            ApiKey(SecretString::from(key.to_owned()))
        }
    }

    fn encoded(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The parts of credentials, for what each may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    ApiKey,
    Token,
    Username,
    Password,
}

/// Why a credential cannot be sent as it is, if it cannot: HTTP headers carry no line breaks
/// or other control characters; API keys and tokens are ASCII without spaces; a username in
/// basic authentication cannot hold `:`. (Usernames and passwords may be any other Unicode:
/// basic authentication sends them base64-encoded.)
pub(crate) fn problem(value: &str, part: Part) -> Option<&'static str> {
    if value.contains(['\r', '\n']) {
        return Some("it holds a line break (CR or LF)");
    }
    if value.chars().any(char::is_control) {
        return Some("it holds a control character");
    }
    match part {
        Part::ApiKey | Part::Token if !value.is_ascii() => {
            Some("it holds a character that is not ASCII, which no API key or token does")
        }
        Part::ApiKey | Part::Token if value.trim().contains(' ') => {
            Some("it holds a space, which no API key or token does")
        }
        Part::Username if value.contains(':') => {
            Some("it holds `:`, which basic authentication cannot carry in a username")
        }
        _ => None,
    }
}

impl Credentials {
    /// The `Authorization` header, marked sensitive so that it never shows in debug output.
    pub(crate) fn header(&self) -> Option<HeaderValue> {
        let text = match self {
            Credentials::ApiKey(key) => format!("ApiKey {}", key.encoded()),
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose_secret());
                format!("Basic {}", STANDARD.encode(pair))
            }
            Credentials::Bearer(token) => format!("Bearer {}", token.expose_secret()),
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::Bearer(_) => f.write_str("Bearer([REDACTED])"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_text(credentials: &Credentials) -> String {
        credentials
            .header()
            .expect("valid header")
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    #[test]
    fn api_key_accepts_id_colon_key_and_the_encoded_form() {
        let raw = Credentials::ApiKey(ApiKey::new("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"));
        let encoded = Credentials::ApiKey(ApiKey::new(
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ));
        assert_eq!(header_text(&raw), header_text(&encoded));
        assert_eq!(
            header_text(&raw),
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
        );
    }

    #[test]
    fn basic_is_base64_of_user_colon_password() {
        let basic = Credentials::Basic {
            username: "elastic".into(),
            password: SecretString::from("changeme"),
        };
        assert_eq!(header_text(&basic), "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
        assert!(basic.header().expect("header").is_sensitive());
    }

    /// Issue 11 (9): what cannot travel in a header is named, not silently left out.
    #[test]
    fn credentials_that_cannot_be_sent_say_why() {
        assert_eq!(problem("id:key", Part::ApiKey), None);
        assert_eq!(
            problem("pässwörd", Part::Password),
            None,
            "basic auth is base64"
        );
        for (value, part) in [
            ("key\n", Part::ApiKey),
            ("pass\r\n", Part::Password),
            ("user\u{7}", Part::Username),
            ("tökén", Part::Token),
            ("two words", Part::Token),
            ("ops:team", Part::Username),
        ] {
            assert!(problem(value, part).is_some(), "{value:?} as {part:?}");
        }
        assert!(problem("x\ny", Part::Password).is_some_and(|why| why.contains("line break")));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let all = [
            Credentials::ApiKey(ApiKey::new("id:very-secret")),
            Credentials::Basic {
                username: "elastic".into(),
                password: SecretString::from("very-secret"),
            },
            Credentials::Bearer(SecretString::from("very-secret")),
        ];
        for credentials in all {
            let debug = format!("{credentials:?}");
            assert!(!debug.contains("very-secret"), "{debug}");
            assert!(debug.contains("REDACTED"), "{debug}");
        }
    }
}
