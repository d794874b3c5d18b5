//! One HTTP answer of the simulator, read completely, and the assertions every test makes on
//! it: the product header and JSON content type of every response (docs/elasticsearch-ml-api.md
//! §1.4, §8), the ES error envelope (§1.3) and the flat routing errors (§1.2).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A response, read completely.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// Whether the simulated version sends `X-elastic-product` (§8: from 7.14 on).
    product_header_expected: bool,
}

impl Answer {
    /// Reads a whole response; `product_header_expected` as for the simulated version.
    pub(super) async fn read(
        response: reqwest::Response,
        product_header_expected: bool,
    ) -> Result<Answer, reqwest::Error> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            text,
            body,
            product_header_expected,
        })
    }

    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, which must be JSON.
    #[track_caller]
    pub fn json(&self) -> &Value {
        assert!(
            serde_json::from_str::<Value>(&self.text).is_ok(),
            "the body is not JSON ({}): {:?}",
            self.status,
            self.text
        );
        &self.body
    }

    /// Every response carries the product header (§1.4, §9) from 7.14 on, none before (§8).
    #[track_caller]
    pub fn assert_product_header(&self) -> &Self {
        let expected = self.product_header_expected.then_some("Elasticsearch");
        assert_eq!(
            self.header("x-elastic-product"),
            expected,
            "X-elastic-product header wrong on {} response: {}",
            self.status,
            self.text
        );
        self
    }

    /// Every response says it is JSON (§1.4).
    #[track_caller]
    pub fn assert_json_content_type(&self) -> &Self {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "content-type should be application/json, got {content_type:?}"
        );
        self
    }

    /// A 200 with the product header and JSON; gives the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {}",
            self.text
        );
        self.assert_product_header().assert_json_content_type();
        &self.body
    }

    /// The ES error envelope of §1.3 with no `caused_by`; `root_cause` is the top-level error.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error_type: &str, reason: &str) -> &Value {
        let error = self.assert_envelope(status, error_type);
        assert_eq!(error["reason"], reason, "reason of {}", self.text);
        assert!(
            error.get("caused_by").is_none(),
            "no caused_by expected: {}",
            self.text
        );
        error
    }

    /// The envelope of §1.3 with a `caused_by` of `cause_type`; `root_cause` as
    /// [`Answer::assert_envelope`] checks it. Gives the `caused_by` object.
    #[track_caller]
    pub fn assert_error_caused(
        &self,
        status: u16,
        error_type: &str,
        reason: &str,
        cause_type: &str,
    ) -> &Value {
        let error = self.assert_envelope(status, error_type);
        assert_eq!(error["reason"], reason, "reason of {}", self.text);
        assert_eq!(
            error["caused_by"]["type"], cause_type,
            "caused_by of {}",
            self.text
        );
        &error["caused_by"]
    }

    /// Status, `status` field, `error.type`, the product header and JSON, and a one-element
    /// `root_cause` as `ElasticsearchException.guessRootCauses` finds it (§1.3): the deepest
    /// `caused_by` reached through `ElasticsearchException`s only, else the error itself.
    /// Gives the `error` object.
    #[track_caller]
    pub fn assert_envelope(&self, status: u16, error_type: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "HTTP status of {}", self.text);
        self.assert_product_header().assert_json_content_type();
        assert_eq!(self.body["status"], status, "status field of {}", self.text);
        let error = &self.body["error"];
        assert_eq!(error["type"], error_type, "error.type of {}", self.text);
        let root = error["root_cause"]
            .as_array()
            .unwrap_or_else(|| panic!("root_cause should be an array: {}", self.text));
        assert_eq!(root.len(), 1, "one root_cause expected: {}", self.text);
        let expected = expected_root_cause(error);
        for field in ["type", "reason"] {
            assert_eq!(
                root[0][field], expected[field],
                "root_cause {field} of {}",
                self.text
            );
        }
        error
    }

    /// The flat routing error of §1.2: `{"error":"<message>","status":N}`.
    #[track_caller]
    pub fn assert_flat_error(&self, status: u16, message: &str) {
        assert_eq!(self.status.as_u16(), status, "HTTP status of {}", self.text);
        self.assert_product_header().assert_json_content_type();
        assert_eq!(
            self.body,
            json!({ "error": message, "status": status }),
            "flat error body"
        );
    }
}

/// The `type`s of §1.3 whose Java class is an `ElasticsearchException`.
const ELASTICSEARCH_EXCEPTIONS: &[&str] = &[
    "exception",
    "status_exception",
    "resource_not_found_exception",
    "resource_already_exists_exception",
    "security_exception",
    "parse_exception",
    "master_not_discovered_exception",
    "timeout_exception",
    "cluster_block_exception",
    "failed_node_exception",
];

/// `guessRootCauses` over the rendered chain (§1.3).
fn expected_root_cause(error: &Value) -> &Value {
    let is_es = |value: &Value| {
        value["type"]
            .as_str()
            .is_some_and(|kind| ELASTICSEARCH_EXCEPTIONS.contains(&kind))
    };
    let mut current = error;
    while let Some(cause) = current.get("caused_by") {
        if !is_es(current) || !is_es(cause) {
            break;
        }
        current = cause;
    }
    current
}

/// The `node` object of job or datafeed stats (§2.7, §2.9): id, name, `ephemeral_id`,
/// `transport_address`, attributes. Gives the node id.
#[track_caller]
pub fn assert_node(stats: &Value) -> String {
    let node = &stats["node"];
    for field in ["id", "name", "ephemeral_id", "transport_address"] {
        assert!(
            node[field].as_str().is_some_and(|s| !s.is_empty()),
            "node.{field} should be a non-empty string: {stats}"
        );
    }
    assert!(node["attributes"].is_object(), "node.attributes: {stats}");
    node["id"].as_str().unwrap_or_default().to_owned()
}

/// A stats element without a `node`.
#[track_caller]
pub fn assert_no_node(stats: &Value) {
    assert!(stats.get("node").is_none(), "no node expected: {stats}");
}
