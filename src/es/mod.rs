//! The Elasticsearch ML client: the only code that knows Elasticsearch URLs and JSON shapes.
//!
//! It takes typed requests ([`request`]), sends them with reqwest (rustls), checks that the
//! server is Elasticsearch, and returns typed responses ([`types`]) or a classified [`Error`].
//! It never retries and never sleeps: retries belong to the executor, where they are events.

mod auth;
mod client;
mod error;
mod exchange;
pub mod request;
mod time;
pub mod types;

pub use auth::{ApiKey, Credentials};
pub use client::{Connection, EsClient, check_ca_cert};
pub use error::{Error, EsErrorBody, Found};
pub use exchange::{Exchange, ExchangeObserver, Observer};
pub use time::es_time;
