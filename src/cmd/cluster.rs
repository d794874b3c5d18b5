//! Which cluster a command talks to and how: the playbook's `cluster:` section, overridden by
//! `--cluster` / `ES_URL`, `ES_API_KEY`, `ES_BEARER_TOKEN` (a service-account or OAuth token),
//! `ES_USERNAME` + `ES_PASSWORD` and `ES_CA_CERT`.
//! `--cluster sim:FILE` starts the embedded simulator seeded from FILE instead.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::error::Error;
use crate::es::{ApiKey, Connection, Credentials, EsClient, Part, credential_problem};
use crate::model::{Auth, ClusterKey, Playbook, Unresolved};
use crate::observe::{Outlook, OutlookRequest, Snapshot};
use crate::playbook::{InvalidPlaybook, Problem};
#[cfg(feature = "sim")]
use quiesce_sim::seed::SeedError;
#[cfg(feature = "sim")]
use quiesce_sim::{Seed, SimOptions, Simulator};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClusterArgs {
    /// The cluster to talk to, overriding the playbook's `cluster.url`. `sim:FILE` starts the
    /// embedded simulator in this process, seeded from the seed file FILE (`sim:` alone: an
    /// empty simulated cluster).
    #[arg(long, env = "ES_URL", value_name = "URL")]
    pub(crate) cluster: Option<String>,
}

/// A connected client; holds the embedded simulator alive when there is one.
pub(crate) struct Cluster {
    pub client: EsClient,
    /// The Elasticsearch user the credentials authenticate as, once the preflight asked.
    pub user: Option<String>,
    /// `sim:FILE` when the cluster is the embedded simulator, which ends with the command.
    simulated: Option<String>,
    /// Kept for its lifetime: dropping it stops the simulated cluster.
    #[cfg(feature = "sim")]
    simulator: Option<Simulator>,
}

impl Cluster {
    /// `sim:FILE` when the cluster is the embedded simulator.
    pub(crate) fn simulator_seed(&self) -> Option<&str> {
        self.simulated.as_deref()
    }

    /// Lets the embedded simulator (if any) finish its connections and stop.
    pub(crate) async fn release(self) {
        #[cfg(feature = "sim")]
        if let Some(sim) = self.simulator {
            sim.shutdown().await;
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `value`, given by `name`, if it can be sent as the `part` of credentials; otherwise why not.
fn checked(name: &str, value: String, part: Part) -> Result<String, Error> {
    match credential_problem(&value, part) {
        None => Ok(value),
        Some(reason) => Err(Error::Credentials {
            name: name.to_owned(),
            reason: reason.to_owned(),
        }),
    }
}

/// Credentials from the environment, which win over the playbook's. A value that cannot be
/// sent, or a username without a password (or the reverse), is an error rather than
/// credentials quietly left out.
fn credentials_from_env() -> Result<Option<Credentials>, Error> {
    if let Some(key) = env("ES_API_KEY") {
        let key = checked("ES_API_KEY", key, Part::ApiKey)?;
        return Ok(Some(Credentials::ApiKey(ApiKey::new(&key))));
    }
    if let Some(token) = env("ES_BEARER_TOKEN") {
        let token = checked("ES_BEARER_TOKEN", token, Part::Token)?;
        return Ok(Some(Credentials::Bearer(SecretString::from(token))));
    }
    match (env("ES_USERNAME"), env("ES_PASSWORD")) {
        (Some(username), Some(password)) => Ok(Some(Credentials::Basic {
            username: checked("ES_USERNAME", username, Part::Username)?,
            password: SecretString::from(checked("ES_PASSWORD", password, Part::Password)?),
        })),
        (Some(_), None) => Err(Error::Credentials {
            name: "ES_USERNAME".to_owned(),
            reason: "it is set but `ES_PASSWORD` is not: basic authentication needs both".into(),
        }),
        (None, Some(_)) => Err(Error::Credentials {
            name: "ES_PASSWORD".to_owned(),
            reason: "it is set but `ES_USERNAME` is not: basic authentication needs both".into(),
        }),
        (None, None) => Ok(None),
    }
}

fn credentials(playbook: Option<&Playbook>) -> Result<Option<Credentials>, Error> {
    use secrecy::ExposeSecret;
    if let Some(credentials) = credentials_from_env()? {
        return Ok(Some(credentials));
    }
    let Some(playbook) = playbook else {
        return Ok(None);
    };
    Ok(match &playbook.cluster.auth {
        Auth::ApiKey(key) => {
            let key = checked(
                "cluster.api_key",
                key.expose_secret().to_owned(),
                Part::ApiKey,
            )?;
            Some(Credentials::ApiKey(ApiKey::new(&key)))
        }
        Auth::Basic { username, password } => {
            let username = checked("cluster.username", username.clone(), Part::Username)?;
            checked(
                "cluster.password",
                password.expose_secret().to_owned(),
                Part::Password,
            )?;
            Some(Credentials::Basic {
                username,
                password: password.clone(),
            })
        }
        Auth::None => None,
    })
}

/// Resolves where to connect and builds the client (starting the simulator for `sim:`).
pub(crate) async fn connect(
    args: &ClusterArgs,
    playbook: Option<&Playbook>,
) -> Result<Cluster, Error> {
    if let Some(playbook) = playbook {
        refuse_unresolved(args, playbook)?;
    }
    let url = args
        .cluster
        .clone()
        .or_else(|| playbook.and_then(|p| p.cluster.url.clone()))
        .ok_or(Error::NoCluster)?;
    if let Some(seed_path) = url.strip_prefix("sim:") {
        return embedded_simulator(seed_path, playbook).await;
    }
    let mut connection = Connection::new(url);
    connection.credentials = credentials(playbook)?;
    connection.observer = crate::report::http::observer();
    connection.ca_cert = env("ES_CA_CERT")
        .map(PathBuf::from)
        .or_else(|| playbook.and_then(|p| p.cluster.ca_cert.clone()));
    Ok(Cluster {
        client: EsClient::new(connection)?,
        user: None,
        simulated: None,
        #[cfg(feature = "sim")]
        simulator: None,
    })
}

/// Refuses, before contacting anything, a playbook connection setting whose variable is unset
/// when nothing else gives that setting: `--cluster`/`ES_URL` give the URL, credentials in the
/// environment give the credentials, `ES_CA_CERT` (or the simulator, which needs none) the CA.
fn refuse_unresolved(args: &ClusterArgs, playbook: &Playbook) -> Result<(), Error> {
    let simulated = args
        .cluster
        .as_deref()
        .is_some_and(|c| c.starts_with("sim:"));
    let needed = |unresolved: &&Unresolved| match unresolved.key {
        ClusterKey::Url => args.cluster.is_none(),
        ClusterKey::CaCert => !simulated && env("ES_CA_CERT").is_none(),
        ClusterKey::ApiKey | ClusterKey::Username | ClusterKey::Password => {
            !matches!(credentials_from_env(), Ok(Some(_)))
        }
    };
    let problems: Vec<Problem> = playbook
        .cluster
        .unresolved
        .iter()
        .filter(needed)
        .flat_map(|unresolved| {
            unresolved
                .variables
                .iter()
                .map(|name| Problem::UnsetForCluster {
                    name: name.clone(),
                    key: unresolved.key.name(),
                    at: unresolved.location.span(),
                    help: unset_help(unresolved.key, name),
                })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Box::new(InvalidPlaybook::cannot_connect(&playbook.source, problems)).into())
    }
}

/// How to give a connection setting whose variable is unset.
pub(crate) fn unset_help(key: ClusterKey, name: &str) -> String {
    match key {
        ClusterKey::Url => format!(
            "Set `{name}` in the environment, pass `--cluster URL`, or give a default: `${{{name}:-https://es.example:9200}}`."
        ),
        ClusterKey::CaCert => format!(
            "Set `{name}` (or ES_CA_CERT) in the environment of the command, or give a default path."
        ),
        key if key.is_secret() => format!(
            "Set `{name}` in the environment of the command (a secret has no default in a playbook), or give credentials another way: ES_API_KEY, ES_BEARER_TOKEN, or ES_USERNAME with ES_PASSWORD."
        ),
        _ => format!(
            "Set `{name}` in the environment of the command, or give credentials another way: ES_API_KEY, ES_BEARER_TOKEN, or ES_USERNAME with ES_PASSWORD."
        ),
    }
}

/// `--cluster sim:FILE`: a simulator in this process, seeded from FILE.
#[cfg(feature = "sim")]
async fn embedded_simulator(
    seed_path: &str,
    playbook: Option<&Playbook>,
) -> Result<Cluster, Error> {
    let seed = if seed_path.is_empty() {
        Seed::default()
    } else {
        Seed::from_path(std::path::Path::new(seed_path)).map_err(|err| match err {
            SeedError::Read { path, source } => Error::SimSeed { path, source },
            other => Error::Sim(other.into()),
        })?
    };
    let simulator = Simulator::start(SimOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        seed,
        es_version: None,
        profile: None,
    })
    .await?;
    let mut connection = Connection::new(simulator.base_url());
    connection.credentials = credentials(playbook)?;
    connection.observer = crate::report::http::observer();
    Ok(Cluster {
        client: EsClient::new(connection)?,
        user: None,
        simulated: Some(format!("sim:{seed_path}")),
        simulator: Some(simulator),
    })
}

#[cfg(not(feature = "sim"))]
async fn embedded_simulator(_: &str, _: Option<&Playbook>) -> Result<Cluster, Error> {
    Err(Error::NoSimulator)
}

/// Connects, takes one snapshot (its reads retried as the playbook's `settings.retry` says,
/// or the default policy), and lets the embedded simulator (if any) go: for the read-only
/// commands.
pub(crate) async fn observe_once(
    args: &ClusterArgs,
    playbook: Option<&Playbook>,
) -> Result<crate::observe::Snapshot, Error> {
    let cluster = connect(args, playbook).await?;
    let policy = playbook
        .map(|p| p.settings.retry.clone())
        .unwrap_or_default();
    let observed = crate::observe::observe(&cluster.client, &policy, &tell).await;
    cluster.release().await;
    Ok(observed?)
}

/// Observes the cluster and reads what the playbook's checks before the window need.
pub(crate) async fn observe_for_plan(
    args: &ClusterArgs,
    playbook: &Playbook,
) -> Result<(Snapshot, Option<Outlook>), Error> {
    let cluster = connect(args, Some(playbook)).await?;
    let observed = async {
        let policy = &playbook.settings.retry;
        let snapshot = crate::observe::observe(&cluster.client, policy, &tell).await?;
        let outlook = outlook_for(&cluster.client, playbook, &snapshot).await?;
        Ok::<_, Error>((snapshot, outlook))
    }
    .await;
    cluster.release().await;
    observed
}

/// What the snapshot gate (a target version) and the capacity check (jobs to open) need
/// beyond the snapshot; `None`, and no request, when the playbook asks for neither.
pub(crate) async fn outlook_for(
    client: &EsClient,
    playbook: &Playbook,
    snapshot: &Snapshot,
) -> Result<Option<Outlook>, Error> {
    let request = OutlookRequest {
        snapshots_of: if playbook.upgrade.is_some() {
            crate::plan::targeted_jobs(playbook, snapshot)
        } else {
            Vec::new()
        },
        memory: playbook
            .jobs
            .iter()
            .any(|job| job.state == crate::model::JobState::Opened),
    };
    if !request.memory && playbook.upgrade.is_none() {
        return Ok(None);
    }
    let policy = &playbook.settings.retry;
    Ok(Some(
        crate::observe::outlook(client, policy, &tell, snapshot, &request).await?,
    ))
}

/// Says what the person should know about how the cluster is being observed, as it happens.
pub(crate) fn tell(note: crate::observe::ObserveNote) {
    crate::report::stream::note(&note.to_string());
}
