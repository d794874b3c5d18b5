//! Checks of the `cluster:` and `settings:` sections: credentials (secrets only as `${VAR}`),
//! the CA path, and the run settings with their defaults.

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::playbook::{Auth, ClusterConfig, ClusterKey, RetryPolicy, Settings, Unresolved};
use super::validate::Checker;
use crate::playbook::{
    ExpandError, Problem, RawCluster, RawSettings, Sp, expand, is_single_reference,
};

/// A connection setting as far as the environment allows: its value, left for later (a
/// variable it names is unset), or wrong (reported).
enum Resolved<T> {
    Value(T),
    Unset,
    Invalid,
}

impl<T> Resolved<T> {
    fn map<U>(self, f: impl FnOnce(T) -> Option<U>) -> Resolved<U> {
        match self {
            Resolved::Value(value) => f(value).map_or(Resolved::Invalid, Resolved::Value),
            Resolved::Unset => Resolved::Unset,
            Resolved::Invalid => Resolved::Invalid,
        }
    }
}

impl Checker<'_> {
    pub(super) fn cluster(&mut self, raw: Option<&RawCluster>) -> Option<ClusterConfig> {
        let Some(raw) = raw else {
            return Some(ClusterConfig {
                url: None,
                auth: Auth::None,
                ca_cert: None,

                unresolved: Vec::new(),
            });
        };
        let mut unresolved = Vec::new();
        let url = raw.url.as_ref().map(|u| {
            self.connection(ClusterKey::Url, u, &mut unresolved)
                .map(|text| self.url(u, text))
        });
        let api_key = raw
            .api_key
            .as_ref()
            .map(|k| self.secret(ClusterKey::ApiKey, k, &mut unresolved));
        let username = raw
            .username
            .as_ref()
            .map(|u| self.connection(ClusterKey::Username, u, &mut unresolved));
        let password = raw
            .password
            .as_ref()
            .map(|p| self.secret(ClusterKey::Password, p, &mut unresolved));
        let ca_cert = raw.ca_cert.as_ref().map(|c| {
            self.connection(ClusterKey::CaCert, c, &mut unresolved)
                .map(|path| {
                    let dir = self.source.path().parent().unwrap_or(Path::new(""));
                    Some(dir.join(path))
                })
        });
        let auth = match (api_key, username, password) {
            (None, None, None) => Some(Auth::None),
            (Some(key), None, None) => match key {
                Resolved::Value(key) => Some(Auth::ApiKey(key)),
                Resolved::Unset => Some(Auth::None),
                Resolved::Invalid => None,
            },
            (None, Some(username), Some(password)) => match (username, password) {
                (Resolved::Value(username), Resolved::Value(password)) => {
                    Some(Auth::Basic { username, password })
                }
                (Resolved::Invalid, _) | (_, Resolved::Invalid) => None,
                _ => Some(Auth::None),
            },
            (Some(_), _, _) => {
                self.credentials(
                    "`api_key` together with `username`/`password`",
                    raw.api_key.as_ref(),
                );
                None
            }
            (None, Some(_), None) => {
                self.credentials("`username` without `password`", raw.username.as_ref());
                None
            }
            (None, None, Some(_)) => {
                self.credentials("`password` without `username`", raw.password.as_ref());
                None
            }
        };
        let known = |value: Option<Resolved<String>>| match value {
            None | Some(Resolved::Unset) => Some(None),
            Some(Resolved::Value(value)) => Some(Some(value)),
            Some(Resolved::Invalid) => None,
        };
        let ca_cert = match ca_cert {
            None | Some(Resolved::Unset) => Some(None),
            Some(Resolved::Value(path)) => Some(Some(path)),
            Some(Resolved::Invalid) => None,
        };
        Some(ClusterConfig {
            url: known(url)?,
            auth: auth?,
            ca_cert: ca_cert?,
            unresolved,
        })
    }

    /// A connection setting with `${VAR}` expanded; a variable that is unset leaves it for the
    /// commands that contact the cluster to judge (recorded in `unresolved`), any other problem
    /// is reported.
    fn connection(
        &mut self,
        key: ClusterKey,
        value: &Sp<String>,
        unresolved: &mut Vec<Unresolved>,
    ) -> Resolved<String> {
        match expand(value.value(), self.env) {
            Ok(text) => Resolved::Value(text),
            Err(errors)
                if errors
                    .iter()
                    .all(|e| matches!(e, ExpandError::Unset { .. })) =>
            {
                let variables = errors
                    .into_iter()
                    .filter_map(|e| match e {
                        ExpandError::Unset { name, .. } => Some(name),
                        ExpandError::Malformed { .. } => None,
                    })
                    .collect();
                unresolved.push(Unresolved {
                    key,
                    variables,
                    location: self.source.location(value.span()),
                });
                Resolved::Unset
            }
            Err(_) => {
                self.text(value);
                Resolved::Invalid
            }
        }
    }

    /// An `http` or `https` URL with a host; `value` is where `text` is written.
    fn url(&mut self, value: &Sp<String>, text: String) -> Option<String> {
        let reason = match reqwest::Url::parse(&text) {
            Err(err) => Some(err.to_string()),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                Some(format!("scheme `{}` is not http or https", url.scheme()))
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("no host".to_owned()),
            Ok(_) => None,
        };
        match reason {
            None => Some(text),
            Some(reason) => {
                self.problems.push(Problem::InvalidUrl {
                    url: text,
                    reason,
                    at: value.span(),
                });
                None
            }
        }
    }

    fn credentials(&mut self, reason: &'static str, at: Option<&Sp<String>>) {
        self.problems.push(Problem::Credentials {
            reason,
            at: at.map_or((0, 0).into(), Sp::span),
        });
    }

    /// A secret must be exactly one `${VAR}`; a literal is reported without its value.
    fn secret(
        &mut self,
        key: ClusterKey,
        value: &Sp<String>,
        unresolved: &mut Vec<Unresolved>,
    ) -> Resolved<SecretString> {
        if !is_single_reference(value.value()) {
            self.problems.push(Problem::LiteralSecret {
                key: if key == ClusterKey::Password {
                    "password"
                } else {
                    "api_key"
                },
                at: value.span(),
            });
            return Resolved::Invalid;
        }
        self.connection(key, value, unresolved)
            .map(|text| Some(SecretString::from(text)))
    }

    pub(super) fn settings(&mut self, raw: Option<&RawSettings>) -> Option<Settings> {
        let defaults = Settings::default();
        let Some(raw) = raw else {
            return Some(defaults);
        };
        let concurrency = match &raw.concurrency {
            None => Some(defaults.concurrency),
            Some(n) => self.count(
                "concurrency",
                n,
                Settings::CONCURRENCY,
                "Steps in flight at once; the default is 8. More only queue inside Elasticsearch.",
            ),
        };
        let step_timeout = self.duration(
            "step_timeout",
            raw.step_timeout.as_ref(),
            defaults.step_timeout,
        );
        let step_timeout = self.at_most(
            "step_timeout",
            raw.step_timeout.as_ref(),
            step_timeout,
            Settings::MAX_STEP_TIMEOUT,
            "One step's request and its wait for the state; the default is 30m.",
        );
        let retry = self.retry(raw, &defaults.retry);
        let on_failure = match &raw.on_failure {
            None => Some(defaults.on_failure),
            Some(v) => self.keyword("on_failure", v),
        };
        let force = match &raw.force {
            None => Some(defaults.force),
            Some(v) => self.keyword("force", v),
        };
        Some(Settings {
            concurrency: concurrency?,
            step_timeout: step_timeout?,
            retry: retry?,
            on_failure: on_failure?,
            force: force?,
            require_match: raw
                .require_match
                .as_ref()
                .map_or(defaults.require_match, |b| *b.value()),
        })
    }

    fn retry(&mut self, raw: &RawSettings, defaults: &RetryPolicy) -> Option<RetryPolicy> {
        let Some(retry) = raw.retry.as_ref().map(|r| r.value()) else {
            return Some(defaults.clone());
        };
        let attempts = match &retry.attempts {
            None => Some(defaults.attempts),
            Some(n) => self.count(
                "retry.attempts",
                n,
                Settings::ATTEMPTS,
                "Attempts in all, the first included: 1 means no retry; the default is 5. More would keep a cluster in trouble busy with retries.",
            ),
        };
        let initial = self.duration(
            "retry.initial_backoff",
            retry.initial_backoff.as_ref(),
            defaults.initial_backoff,
        );
        let max = self.duration(
            "retry.max_backoff",
            retry.max_backoff.as_ref(),
            defaults.max_backoff,
        );
        let initial = self.at_most(
            "retry.initial_backoff",
            retry.initial_backoff.as_ref(),
            initial,
            Settings::MAX_BACKOFF,
            "The bound of the first wait between attempts; the default is 1s.",
        );
        let max = self.at_most(
            "retry.max_backoff",
            retry.max_backoff.as_ref(),
            max,
            Settings::MAX_BACKOFF,
            "The bound of any wait between attempts; the default is 60s.",
        );
        let (initial, max) = (initial?, max?);
        if max < initial {
            self.problems.push(Problem::BackoffOrder {
                initial: retry.initial_backoff.as_ref().map(Sp::span),
                max: retry.max_backoff.as_ref().map(Sp::span),
            });
            return None;
        }
        Some(RetryPolicy {
            attempts: attempts?,
            initial_backoff: initial,
            max_backoff: max,
        })
    }

    /// A count within `range`, or the problem that says the range.
    fn count(
        &mut self,
        key: &'static str,
        value: &Sp<u64>,
        range: RangeInclusive<u64>,
        help: &str,
    ) -> Option<NonZeroUsize> {
        let n = *value.value();
        if range.contains(&n) {
            return usize::try_from(n).ok().and_then(NonZeroUsize::new);
        }
        self.problems.push(Problem::OutOfRange {
            key,
            value: n.to_string(),
            range: format!("from {} to {}", range.start(), range.end()),
            at: value.span(),
            help: help.to_owned(),
        });
        None
    }

    /// `duration` (read from `value`) when it is at most `max`, or the problem that says so.
    fn at_most(
        &mut self,
        key: &'static str,
        value: Option<&Sp<String>>,
        duration: Option<Duration>,
        max: Duration,
        help: &str,
    ) -> Option<Duration> {
        let duration = duration?;
        match value {
            Some(value) if duration > max => {
                self.problems.push(Problem::OutOfRange {
                    key,
                    value: format!("`{}`", value.value().trim()),
                    range: format!("at most {}", super::duration::words(max)),
                    at: value.span(),
                    help: help.to_owned(),
                });
                None
            }
            _ => Some(duration),
        }
    }
}
