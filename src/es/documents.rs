//! The document API subset quiesce keeps its coordination in (docs/elasticsearch-ml-api.md
//! §11): create an index, create, index (compare-and-set), get and delete one document,
//! search, bulk. Typed like the ML calls; a 404 of a document or of its index is "not there",
//! not an error.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::EsClient;
use super::error::Error;
use super::request::{self, DocVersion};
use super::types::{BulkAnswer, FoundDoc, HasPrivileges, SearchAnswer, Written};

impl Written {
    pub(crate) fn version(&self) -> DocVersion {
        DocVersion {
            seq_no: self.seq_no,
            primary_term: self.primary_term,
        }
    }
}

impl<T> FoundDoc<T> {
    pub(crate) fn version(&self) -> DocVersion {
        DocVersion {
            seq_no: self.seq_no,
            primary_term: self.primary_term,
        }
    }
}

impl EsClient {
    /// Creates `index` unless it exists; whether this call created it.
    pub(crate) async fn ensure_index(
        &self,
        index: &str,
        settings: Value,
        mappings: Value,
    ) -> Result<bool, Error> {
        match self
            .send(&request::create_index(index, settings, mappings))
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.is_index_already_there() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `_create`: a 409 ([`Error::is_version_conflict`]) when the id exists.
    pub(crate) async fn create_doc(
        &self,
        index: &str,
        id: &str,
        source: Value,
    ) -> Result<DocVersion, Error> {
        self.call::<Written>(request::create_doc(index, id, source))
            .await
            .map(|w| w.version())
    }

    /// `_doc`, compare-and-set when `only_if` is given.
    pub(crate) async fn index_doc(
        &self,
        index: &str,
        id: &str,
        source: Value,
        only_if: Option<DocVersion>,
    ) -> Result<DocVersion, Error> {
        self.call::<Written>(request::index_doc(index, id, source, only_if))
            .await
            .map(|w| w.version())
    }

    /// The document, or `None` when it (or its index) does not exist.
    pub(crate) async fn get_doc<T: DeserializeOwned>(
        &self,
        index: &str,
        id: &str,
    ) -> Result<Option<FoundDoc<T>>, Error> {
        match self.call::<FoundDoc<T>>(request::get_doc(index, id)).await {
            Ok(doc) => Ok(Some(doc)),
            Err(err) if err.status() == Some(404) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Deletes the document if it is still at `only_if`; a 409 when it changed since, and
    /// nothing when it is already gone.
    pub(crate) async fn delete_doc(
        &self,
        index: &str,
        id: &str,
        only_if: DocVersion,
    ) -> Result<(), Error> {
        match self.send(&request::delete_doc(index, id, only_if)).await {
            Ok(_) => Ok(()),
            Err(err) if err.status() == Some(404) && !err.is_version_conflict() => Ok(()),
            Err(err) => Err(err),
        }
    }

    pub(crate) async fn search<T: DeserializeOwned>(
        &self,
        index: &str,
        body: Value,
    ) -> Result<SearchAnswer<T>, Error> {
        self.call(request::search(index, body)).await
    }

    /// Indexes documents by id in one request; the answer says which failed.
    pub(crate) async fn bulk_index<'a>(
        &self,
        index: &str,
        docs: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<BulkAnswer, Error> {
        self.call(request::bulk_index(index, docs)).await
    }

    /// `_has_privileges` for cluster privileges and privileges on `index`.
    pub(crate) async fn has_privileges_on(
        &self,
        cluster: &[&str],
        index: &str,
        privileges: &[&str],
    ) -> Result<HasPrivileges, Error> {
        self.call(request::has_privileges_on(cluster, index, privileges))
            .await
    }
}
