//! The Elasticsearch ML simulator: an HTTP server that behaves like the ML API of a real
//! cluster (es-ml-api.md), for tests, demos and runbook rehearsals.

pub mod error;

pub use error::EsError;
