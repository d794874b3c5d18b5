//! A [`Capture`] as playbook text (format version 1): the schema modeline, a comment naming the
//! cluster and the capture time, the cluster section with credentials only as commented
//! environment references, then one entry per job and datafeed, each with a comment when its
//! target is not simply the state observed.

use jiff::Timestamp;

use crate::model::{Keyword, Pattern};
use crate::observe::Snapshot;

use super::yaml::{comment_text, scalar};
use super::{Capture, Note, Selection};

/// The playbook that brings the selected jobs and their datafeeds back to the states in
/// `snapshot`, captured at `at` from `cluster_url` (whose credentials, if any, are dropped).
pub fn playbook_from(
    snapshot: &Snapshot,
    selection: &Selection,
    at: Timestamp,
    cluster_url: &str,
) -> String {
    Capture::new(snapshot, selection).render(at, cluster_url)
}

impl Capture {
    /// The playbook text; see [`playbook_from`].
    pub fn render(&self, at: Timestamp, cluster_url: &str) -> String {
        let url = PublicUrl::new(cluster_url);
        let when = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut text = String::new();
        let out = &mut text;

        push(
            out,
            "# yaml-language-server: $schema=../schemas/playbook.schema.json",
        );
        push(
            out,
            &format!(
                "# Captured from cluster `{}` (Elasticsearch {}) on {when},",
                comment_text(&self.cluster_name),
                comment_text(&self.version),
            ),
        );
        push(out, &format!("# at {}.", comment_text(&url.shown)));
        push(
            out,
            &format!("# Jobs: {}.", selection_text(&self.selection)),
        );
        push(
            out,
            "# Each target is the state observed then; applying this playbook brings it back.",
        );
        push(out, "version: 1");
        push(
            out,
            &format!(
                "name: {}",
                scalar(&format!(
                    "captured-{}-{}",
                    slug(&self.cluster_name),
                    at.strftime("%Y%m%d-%H%M%S")
                ))
            ),
        );
        push(
            out,
            &format!(
                "description: {}",
                scalar(&format!(
                    "The machine-learning state of `{}` captured on {when}: {} of {} jobs opened, {} of {} datafeeds started.",
                    // A playbook expands `${VAR}` in every string; a cluster name is not one.
                    self.cluster_name.replace("${", "$${"),
                    self.opened_jobs(),
                    self.jobs.len(),
                    self.started_datafeeds(),
                    self.datafeeds.len()
                ))
            ),
        );
        push(out, "");
        Self::render_cluster(out, &url);
        push(out, "");
        self.render_jobs(out);
        push(out, "");
        self.render_datafeeds(out);
        if self.upgrade_mode {
            push(out, "");
            push(
                out,
                "# WARNING: upgrade mode was ENABLED when this was captured, and is kept here so that",
            );
            push(
                out,
                "# the playbook says what the cluster was. Remove this line (or write `disabled`) to",
            );
            push(
                out,
                "# bring the jobs and datafeeds back: nothing opens or starts while it is enabled.",
            );
            push(out, "upgrade_mode: enabled");
        } else {
            push(out, "");
            push(
                out,
                "# Upgrade mode was off when this was captured. Restoring turns it off first: a shutdown",
            );
            push(
                out,
                "# may have enabled it, and nothing opens or starts while it is on.",
            );
            push(out, "upgrade_mode: disabled");
        }
        text
    }

    fn render_cluster(out: &mut String, url: &PublicUrl) {
        push(out, "cluster:");
        let value = match &url.default {
            Some(default) => format!("${{ES_URL:-{default}}}"),
            None => "${ES_URL}".to_owned(),
        };
        push(out, &format!("  url: {}", scalar(&value)));
        push(
            out,
            "  # Credentials come from the environment, never from this file; uncomment one way:",
        );
        push(out, "  # api_key: ${ES_API_KEY}");
        push(out, "  # username: ${ES_USERNAME}");
        push(out, "  # password: ${ES_PASSWORD}");
        push(out, "  # ca_cert: certs/http_ca.crt");
    }

    fn render_jobs(&self, out: &mut String) {
        if self.jobs.is_empty() {
            push(out, "jobs: []");
            return;
        }
        push(out, "jobs:");
        for job in &self.jobs {
            render_note(out, job.note.as_ref(), &format!("job `{}`", job.id));
            push(out, &format!("  - id: {}", scalar(&job.id)));
            push(out, &format!("    state: {}", job.state.name()));
        }
    }

    fn render_datafeeds(&self, out: &mut String) {
        if self.datafeeds.is_empty() {
            push(out, "datafeeds: []");
            return;
        }
        push(out, "datafeeds:");
        for feed in &self.datafeeds {
            render_note(out, feed.note.as_ref(), &format!("datafeed `{}`", feed.id));
            push(out, &format!("  - id: {}", scalar(&feed.id)));
            push(out, &format!("    job: {}", scalar(&feed.job)));
            push(out, &format!("    state: {}", feed.state.name()));
        }
    }
}

fn push(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

fn render_note(out: &mut String, note: Option<&Note>, subject: &str) {
    let Some(note) = note else {
        return;
    };
    let text = match note {
        Note::JobFailed => format!(
            "{subject} was `failed` when captured; a playbook cannot make a job fail, so it is \
             kept closed (closing a failed job needs `settings.force: after_timeout`)"
        ),
        Note::JobInTransition(observed) => {
            format!("{subject} was `{observed}` when captured")
        }
        Note::JobOpenForLookback { datafeed } => format!(
            "{subject} was open for the lookback of datafeed `{datafeed}`, which closes it \
             when the lookback ends; it is restored opened with that datafeed stopped: write \
             `closed` if it should not stay open"
        ),
        Note::Lookback => format!(
            "{subject} was started with an `end` (a lookback) when captured; it will not be \
             restarted because it ran with an end and stops by itself"
        ),
        Note::JobNotOpen { job } => format!(
            "{subject} was started but its job `{job}` is captured closed; a datafeed cannot \
             run on a closed job, so it is kept stopped"
        ),
        Note::DatafeedInTransition(observed) => {
            format!("{subject} was `{observed}` when captured")
        }
    };
    for line in wrap(&comment_text(&text), 94) {
        push(out, &format!("  # {line}"));
    }
}

/// Words joined into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn selection_text(selection: &Selection) -> String {
    if selection.is_everything() {
        return "every job, with its datafeed".to_owned();
    }
    let tokens: Vec<String> = selection
        .tokens()
        .iter()
        .map(Pattern::as_str)
        .map(|token| format!("`{}`", comment_text(token)))
        .collect();
    format!(
        "those matching {} (ids or groups), with their datafeeds",
        tokens.join(", ")
    )
}

/// The cluster name as it may appear in a playbook name: lowercase letters, digits and `-`.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "cluster".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The cluster URL as it may be written down: without user, password, query or fragment.
struct PublicUrl {
    /// For the comment.
    shown: String,
    /// For `${ES_URL:-…}`: only an `http(s)` URL, which a playbook accepts.
    default: Option<String>,
}

impl PublicUrl {
    fn new(raw: &str) -> PublicUrl {
        match reqwest::Url::parse(raw) {
            Ok(mut url) if url.has_host() => {
                // Setting these cannot fail on a URL with a host.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                let shown = url.as_str().trim_end_matches('/').to_owned();
                let default = matches!(url.scheme(), "http" | "https").then(|| shown.clone());
                PublicUrl { shown, default }
            }
            // `sim:FILE` and other non-network forms carry no credentials; a URL that does not
            // parse is not repeated, since it might.
            _ if raw.starts_with("sim:") => PublicUrl {
                shown: raw.to_owned(),
                default: None,
            },
            _ => PublicUrl {
                shown: "an unparsed URL".to_owned(),
                default: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        let url = PublicUrl::new("https://elastic:s3cret@es.example:9200/base?token=abc#x");
        assert_eq!(url.shown, "https://es.example:9200/base");
        assert_eq!(url.default.as_deref(), Some("https://es.example:9200/base"));
        let sim = PublicUrl::new("sim:workflows/demo-cluster.yaml");
        assert_eq!(sim.shown, "sim:workflows/demo-cluster.yaml");
        assert_eq!(sim.default, None);
        let bad = PublicUrl::new("http//user:pw@host");
        assert!(!bad.shown.contains("pw"));
        assert_eq!(bad.default, None);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Prod.EU_1"), "prod-eu-1");
        assert_eq!(slug("--"), "cluster");
        assert_eq!(slug("é-prod-"), "prod");
    }

    #[test]
    fn wraps_on_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
    }
}
