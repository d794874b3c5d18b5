//! A [`Capture`] as playbook text (format version 1): the schema modeline, a comment naming the
//! cluster and the capture time, the cluster section with credentials only as commented
//! environment references, then one entry per job and datafeed, each with a comment when its
//! target is not simply the state observed.

use jiff::Timestamp;

use crate::model::{Pattern, UpgradeMode};
#[cfg(test)]
use crate::observe::Snapshot;
use crate::playbook::{DatafeedEntry, JobEntry, PlaybookWriter, Text};

use super::{Capture, FailedJob, Note, Selection};

/// The playbook that brings the selected jobs and their datafeeds back to the states in
/// `snapshot`, captured at `at` from `cluster_url` (whose credentials, if any, are dropped);
/// `schema`, when given, is the path or URL of the playbook schema for the modeline.
#[cfg(test)]
pub(crate) fn playbook_from(
    snapshot: &Snapshot,
    selection: &Selection,
    at: Timestamp,
    cluster_url: &str,
    schema: Option<&str>,
) -> String {
    Capture::new(snapshot, selection).render(at, cluster_url, schema)
}

impl Capture {
    /// The playbook text; see [`playbook_from`].
    pub(crate) fn render(&self, at: Timestamp, cluster_url: &str, schema: Option<&str>) -> String {
        let url = PublicUrl::new(cluster_url);
        let when = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut w = PlaybookWriter::new();

        if let Some(schema) = schema {
            w.modeline(schema);
        }
        w.comment(&format!(
            "Captured from cluster `{}` (Elasticsearch {}) on {when},",
            self.cluster_name, self.version,
        ));
        w.comment(&format!("at {}.", url.shown));
        w.comment(&format!("Jobs: {}.", selection_text(&self.selection)));
        w.comment("Each target is the state observed then; applying this playbook brings it back.");
        for failed in &self.failed {
            w.comment_wrapped(&format!("Left out: {}.", failed_text(failed)));
        }
        w.head(
            &format!(
                "captured-{}-{}",
                slug(&self.cluster_name),
                at.strftime("%Y%m%d-%H%M%S")
            ),
            Some(&format!(
                "The machine-learning state of `{}` captured on {when}: {} of {} jobs opened, {} of {} datafeeds started{}.",
                self.cluster_name,
                self.opened_jobs(),
                self.jobs.len(),
                self.started_datafeeds(),
                self.datafeeds.len(),
                match self.failed.len() {
                    0 => String::new(),
                    n => format!("; {n} failed job(s) left out"),
                }
            )),
        );
        w.blank();
        let url_value = url.default.as_ref().map_or_else(
            || "${ES_URL}".to_owned(),
            |default| format!("${{ES_URL:-{default}}}"),
        );
        w.cluster(
            Text::WithVariables(&url_value),
            &[
                "Credentials come from the environment, never from this file; uncomment one way:",
                "api_key: ${ES_API_KEY}",
                "username: ${ES_USERNAME}",
                "password: ${ES_PASSWORD}",
                "ca_cert: certs/http_ca.crt",
            ],
        );
        w.blank();
        w.jobs(&self.job_entries());
        w.blank();
        w.datafeeds(&self.datafeed_entries());
        w.blank();
        if self.upgrade_mode {
            w.comment(
                "WARNING: upgrade mode was ENABLED when this was captured, and is kept here so that",
            );
            w.comment(
                "the playbook says what the cluster was. Remove this line (or write `disabled`) to",
            );
            w.comment(
                "bring the jobs and datafeeds back: nothing opens or starts while it is enabled.",
            );
            w.upgrade_mode(UpgradeMode::Enabled);
        } else {
            w.comment(
                "Upgrade mode was off when this was captured. Restoring turns it off first: a shutdown",
            );
            w.comment("may have enabled it, and nothing opens or starts while it is on.");
            w.upgrade_mode(UpgradeMode::Disabled);
        }
        w.finish()
    }

    fn job_entries(&self) -> Vec<JobEntry> {
        self.jobs
            .iter()
            .map(|job| JobEntry {
                id: job.id.clone(),
                state: job.state,
                comment: job
                    .note
                    .as_ref()
                    .map(|note| note_text(note, &format!("job `{}`", job.id))),
            })
            .collect()
    }

    fn datafeed_entries(&self) -> Vec<DatafeedEntry> {
        self.datafeeds
            .iter()
            .map(|feed| DatafeedEntry {
                id: feed.id.clone(),
                job: Some(feed.job.clone()),
                state: feed.state,
                comment: feed
                    .note
                    .as_ref()
                    .map(|note| note_text(note, &format!("datafeed `{}`", feed.id))),
            })
            .collect()
    }
}

/// Why a failed job is not in the capture, as a comment (and a note on stderr).
pub(crate) fn failed_text(failed: &FailedJob) -> String {
    let datafeed = failed
        .datafeed
        .as_ref()
        .map(|d| format!(" (with its datafeed `{d}`)"))
        .unwrap_or_default();
    format!(
        "job `{}`{datafeed} was `failed`: a playbook cannot make a job fail and only a forced close moves it, so restoring this capture leaves it as it is (force-close it and find out why it failed before opening it again)",
        failed.id
    )
}

/// Why `subject`'s target is not simply the state observed, as the comment above its entry.
fn note_text(note: &Note, subject: &str) -> String {
    match note {
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
    }
}

fn selection_text(selection: &Selection) -> String {
    if selection.is_everything() {
        return "every job, with its datafeed".to_owned();
    }
    let tokens: Vec<String> = selection
        .tokens()
        .iter()
        .map(Pattern::as_str)
        .map(|token| format!("`{token}`"))
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
        let sim = PublicUrl::new("sim:seeds/demo-cluster.yaml");
        assert_eq!(sim.shown, "sim:seeds/demo-cluster.yaml");
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
}
