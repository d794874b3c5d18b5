//! The Elasticsearch ML client: the only code that knows Elasticsearch URLs and JSON shapes.
//!
//! It takes typed requests ([`request`]), sends them with reqwest (rustls), checks that the
//! server is Elasticsearch, and returns typed responses ([`types`]) or a classified [`Error`].
//! It never retries and never sleeps: retries belong to the executor, where they are events.

mod auth;
mod client;
mod documents;
mod error;
mod exchange;
pub(crate) mod request;
mod time;
mod tls;
pub(crate) mod types;

pub(crate) use auth::{ApiKey, Credentials, Part, problem as credential_problem};
pub(crate) use client::{Connection, EsClient, check_ca_cert};
pub(crate) use error::{Error, EsErrorBody, OVERLOAD_TYPES};
pub(crate) use exchange::{Exchange, ExchangeObserver, Observer};
pub(crate) use request::DocVersion;
pub(crate) use tls::TlsProblem;
