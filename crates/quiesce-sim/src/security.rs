//! Security as ES runs it when the seed defines users or API keys (docs/elasticsearch-ml-api.md §2.14–2.15):
//! authentication (`Basic`, `ApiKey`, `Bearer`), the cluster-privilege role model, the 401/403 texts,
//! `_has_privileges` and `_security/_authenticate`.
//!
//! Takes the seed's users and keys; gives a [`Principal`] per request or ES's exact refusal.
//! Passwords and keys stay in `SecretString`, are compared in constant time and never appear in
//! any output or `Debug`.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::EsError;

mod has_privileges;
mod index_privilege;
mod privilege;

pub(crate) use index_privilege::{IndexAction, glob};
pub use index_privilege::{IndexPrivilege, IndicesPrivileges, RoleDescriptor};
pub use privilege::Privilege;

use std::collections::BTreeMap;

/// A user from the seed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    /// Compared in constant time; never printed.
    #[schemars(with = "String")]
    pub password: SecretString,
    /// Role names: a role of `security.roles`, `superuser`, or one named after the cluster
    /// privilege it grants (`manage_ml`, …).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// An API key from the seed (`Authorization: ApiKey base64(id:key)`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: String,
    /// Compared in constant time; never printed.
    #[schemars(with = "String")]
    pub key: SecretString,
    /// The key's name, shown by `_security/_authenticate` (default: none).
    #[serde(default)]
    pub name: Option<String>,
    /// The owner named in 403 messages.
    #[serde(default = "default_key_owner")]
    pub username: String,
    /// Roles the key is limited to (names as for users).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_key_owner() -> String {
    "api_key_user".to_owned()
}

/// A bearer token from the seed (`Authorization: Bearer <token>`): a service-account token
/// (its `username` is the account, `namespace/service`, e.g. `elastic/fleet-server`) or an
/// `OAuth2` access token of a user.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// The credential as sent after `Bearer `. Compared in constant time; never printed.
    #[schemars(with = "String")]
    pub token: SecretString,
    /// Who the token authenticates: a user, or a service account `namespace/service`.
    pub username: String,
    /// The token's name, shown by `_security/_authenticate` (default `token`).
    #[serde(default)]
    pub name: Option<String>,
    /// Roles it grants (names as for users).
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Token {
    /// Service accounts are named `namespace/service`, user names have no `/`.
    fn is_service_account(&self) -> bool {
        self.username.contains('/')
    }
}

/// The users, keys and tokens the cluster knows; present only when security is on.
#[derive(Debug, Clone)]
pub(crate) struct Security {
    users: Vec<User>,
    api_keys: Vec<ApiKey>,
    tokens: Vec<Token>,
    /// The roles of the seed, and the built-in ones.
    roles: BTreeMap<String, RoleDescriptor>,
    /// ES's token service, whose `Bearer` challenge 401s list: on by default when HTTP has TLS
    /// (`xpack.security.authc.token.enabled` defaults to `xpack.security.http.ssl.enabled`).
    token_service: bool,
}

/// Who made a request, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    username: String,
    /// Role names, as `_authenticate` and 403s print them.
    role_names: Vec<String>,
    /// The cluster privileges the roles grant.
    roles: Vec<Privilege>,
    /// The index privileges the roles grant.
    indices: Vec<IndicesPrivileges>,
    api_key: Option<ApiKeyId>,
    token: Option<TokenId>,
}

/// The bearer token a principal authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenId {
    name: String,
    service_account: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiKeyId {
    id: String,
    name: Option<String>,
}

const BASIC_CHALLENGE: &str = "Basic realm=\"security\" charset=\"UTF-8\"";
const BEARER_CHALLENGE: &str = "Bearer realm=\"security\"";
const API_KEY_CHALLENGE: &str = "ApiKey";

impl Security {
    /// Security with these users, keys, tokens and roles; `None` when there are no credentials
    /// (security off).
    pub(crate) fn new(
        users: Vec<User>,
        api_keys: Vec<ApiKey>,
        tokens: Vec<Token>,
        roles: BTreeMap<String, RoleDescriptor>,
    ) -> Option<Security> {
        let mut all_roles = builtin_roles();
        all_roles.extend(roles);
        (!users.is_empty() || !api_keys.is_empty() || !tokens.is_empty()).then_some(Security {
            users,
            api_keys,
            tokens,
            roles: all_roles,
            token_service: false,
        })
    }

    /// The role names used by a user, key or token that no role defines.
    pub(crate) fn unknown_roles(&self) -> Vec<String> {
        let used = self
            .users
            .iter()
            .flat_map(|user| &user.roles)
            .chain(self.api_keys.iter().flat_map(|key| &key.roles))
            .chain(self.tokens.iter().flat_map(|token| &token.roles));
        let mut unknown: Vec<String> = used
            .filter(|name| !self.roles.contains_key(*name))
            .cloned()
            .collect();
        unknown.sort();
        unknown.dedup();
        unknown
    }

    /// A principal with these role names.
    fn principal(&self, username: &str, role_names: &[String]) -> Principal {
        let descriptors = role_names.iter().filter_map(|name| self.roles.get(name));
        let mut roles = Vec::new();
        let mut indices = Vec::new();
        for descriptor in descriptors {
            roles.extend(descriptor.cluster.iter().copied());
            indices.extend(descriptor.indices.iter().cloned());
        }
        Principal {
            username: username.to_owned(),
            role_names: role_names.to_vec(),
            roles,
            indices,
            api_key: None,
            token: None,
        }
    }

    /// Turns on the token service, as HTTPS does in ES: 401s then offer `Bearer` too.
    pub(crate) fn with_token_service(mut self) -> Security {
        self.token_service = true;
        self
    }

    fn unauthorized(&self, reason: String) -> EsError {
        let error = EsError::new(401, "security_exception", reason)
            .with_header(WWW_AUTHENTICATE, BASIC_CHALLENGE);
        let error = if self.token_service {
            error.with_header(WWW_AUTHENTICATE, BEARER_CHALLENGE)
        } else {
            error
        };
        error.with_header(WWW_AUTHENTICATE, API_KEY_CHALLENGE)
    }

    /// Authenticates a request. `uri` is the request URI as ES prints it in its messages
    /// (path and query, e.g. `/_ml/info?pretty`).
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        uri: &str,
    ) -> Result<Principal, EsError> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(self.unauthorized(format!(
                "missing authentication credentials for REST request [{uri}]"
            )));
        };
        let value = value.to_str().unwrap_or("");
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            self.basic(credentials.trim(), uri)
        } else if scheme.eq_ignore_ascii_case("apikey") {
            self.api_key(credentials.trim())
        } else if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(credentials.trim())
        } else {
            Err(self.unauthorized(format!(
                "missing authentication credentials for REST request [{uri}]"
            )))
        }
    }

    fn basic(&self, credentials: &str, uri: &str) -> Result<Principal, EsError> {
        let decoded = STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                self.unauthorized("invalid basic authentication header encoding".to_owned())
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            self.unauthorized("invalid basic authentication header value".to_owned())
        })?;
        let user = self.users.iter().find(|user| user.username == username);
        // Compare against something even for an unknown user so timing does not tell.
        let expected = user.map_or("", |user| user.password.expose_secret());
        match user {
            Some(user) if constant_time_eq(expected.as_bytes(), password.as_bytes()) => {
                Ok(self.principal(&user.username, &user.roles))
            }
            _ => Err(self.unauthorized(format!(
                "unable to authenticate user [{username}] for REST request [{uri}]"
            ))),
        }
    }

    /// The 401 of credentials no realm or service accepts (API keys, bearer tokens).
    fn refused(&self) -> EsError {
        self.unauthorized(
            "unable to authenticate with provided credentials and anonymous access is not \
             allowed for this request"
                .to_owned(),
        )
    }

    fn bearer(&self, credentials: &str) -> Result<Principal, EsError> {
        let found = self.tokens.iter().find(|token| {
            constant_time_eq(
                token.token.expose_secret().as_bytes(),
                credentials.as_bytes(),
            )
        });
        let token = found.ok_or_else(|| self.refused())?;
        Ok(Principal {
            token: Some(TokenId {
                name: token.name.clone().unwrap_or_else(|| "token".to_owned()),
                service_account: token.is_service_account(),
            }),
            ..self.principal(&token.username, &token.roles)
        })
    }

    fn api_key(&self, credentials: &str) -> Result<Principal, EsError> {
        let refused = || self.refused();
        let decoded = STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(refused)?;
        let (id, key) = decoded.split_once(':').ok_or_else(refused)?;
        let found = self.api_keys.iter().find(|api_key| api_key.id == id);
        let expected = found.map_or("", |api_key| api_key.key.expose_secret());
        match found {
            Some(api_key) if constant_time_eq(expected.as_bytes(), key.as_bytes()) => {
                Ok(Principal {
                    api_key: Some(ApiKeyId {
                        id: api_key.id.clone(),
                        name: api_key.name.clone(),
                    }),
                    ..self.principal(&api_key.username, &api_key.roles)
                })
            }
            _ => Err(refused()),
        }
    }
}

impl Principal {
    fn holds(&self, required: Privilege) -> bool {
        self.roles.iter().any(|role| role.implies(required))
    }

    /// Allows the action, or ES's 403 (§2.15) naming the privileges that would grant it.
    pub(crate) fn authorize(&self, action: &str, required: Privilege) -> Result<(), EsError> {
        if self.holds(required) {
            return Ok(());
        }
        let who = self.describe();
        let granting: Vec<&str> = Privilege::ALL
            .into_iter()
            .filter(|privilege| privilege.implies(required))
            .map(Privilege::name)
            .collect();
        Err(EsError::new(
            403,
            "security_exception",
            format!(
                "action [{action}] is unauthorized for {who}, this action is granted by the \
                 cluster privileges [{}]",
                granting.join(",")
            ),
        ))
    }

    /// Whether the roles grant `action` on `index`.
    pub(crate) fn may(&self, action: IndexAction, index: &str) -> bool {
        self.indices.iter().any(|entry| {
            entry.matches(index)
                && entry
                    .privileges
                    .iter()
                    .any(|privilege| privilege.grants(action))
        })
    }

    /// Allows an index action on every index given, or ES's 403 naming them and the index
    /// privileges that would grant it (`AuthorizationDenialMessages` with the `on indices`
    /// context).
    pub(crate) fn authorize_indices(
        &self,
        action: IndexAction,
        indices: &[&str],
    ) -> Result<(), EsError> {
        if indices.iter().all(|index| self.may(action, index)) {
            return Ok(());
        }
        Err(self.index_denial(action, indices))
    }

    /// ES's 403 for an index action.
    pub(crate) fn index_denial(&self, action: IndexAction, indices: &[&str]) -> EsError {
        let granting: Vec<&str> = action
            .granted_by()
            .iter()
            .map(|privilege| privilege.name())
            .collect();
        EsError::new(
            403,
            "security_exception",
            format!(
                "action [{}] is unauthorized for {} on indices [{}], this action is granted by \
                 the index privileges [{}]",
                action.name(),
                self.describe(),
                indices.join(","),
                granting.join(",")
            ),
        )
    }

    /// Who the principal is in a 403 (`AuthorizationDenialMessages`).
    fn describe(&self) -> String {
        match (&self.api_key, &self.token) {
            (Some(key), _) => format!("API key id [{}] of user [{}]", key.id, self.username),
            // AuthorizationDenialMessages: a service account has no roles of its own.
            (None, Some(token)) if token.service_account => {
                format!("service account [{}]", self.username)
            }
            (None, _) => {
                let mut roles: Vec<&str> = self.role_names.iter().map(String::as_str).collect();
                roles.sort_unstable();
                roles.dedup();
                format!(
                    "user [{}] with effective roles [{}]",
                    self.username,
                    roles.join(",")
                )
            }
        }
    }

    /// The `GET /_security/_authenticate` response.
    pub(crate) fn authenticate_body(&self) -> Value {
        if let Some(token) = &self.token {
            return self.token_authenticate_body(token);
        }
        match &self.api_key {
            Some(key) => json!({
                "username": self.username,
                "roles": [],
                "full_name": null,
                "email": null,
                "metadata": {},
                "enabled": true,
                "authentication_realm": {"name": "_es_api_key", "type": "_es_api_key"},
                "lookup_realm": {"name": "_es_api_key", "type": "_es_api_key"},
                "authentication_type": "api_key",
                "api_key": {"id": key.id, "name": key.name},
            }),
            None => json!({
                "username": self.username,
                "roles": self.role_names,
                "full_name": null,
                "email": null,
                "metadata": {},
                "enabled": true,
                "authentication_realm": {"name": "default_native", "type": "native"},
                "lookup_realm": {"name": "default_native", "type": "native"},
                "authentication_type": "realm",
            }),
        }
    }
}

impl Principal {
    /// `_security/_authenticate` for a bearer token: a service account authenticates in the
    /// `_service_account` realm, an `OAuth2` token in its user's realm; both as `token`.
    fn token_authenticate_body(&self, token: &TokenId) -> Value {
        if token.service_account {
            let realm = json!({"name": "_service_account", "type": "_service_account"});
            return json!({
                "username": self.username,
                "roles": [],
                "full_name": format!("Service account - {}", self.username),
                "email": null,
                "token": {"name": token.name, "type": "_service_account_index"},
                "metadata": {"_elastic_service_account": true},
                "enabled": true,
                "authentication_realm": realm,
                "lookup_realm": realm,
                "authentication_type": "token",
            });
        }
        let realm = json!({"name": "default_native", "type": "native"});
        json!({
            "username": self.username,
            "roles": self.role_names,
            "full_name": null,
            "email": null,
            "metadata": {},
            "enabled": true,
            "authentication_realm": realm,
            "lookup_realm": realm,
            "authentication_type": "token",
        })
    }
}

/// The roles every cluster knows: one per modelled cluster privilege, named after it (the
/// simulator's shorthand), and ES's `superuser` (every cluster and index privilege).
fn builtin_roles() -> BTreeMap<String, RoleDescriptor> {
    let mut roles: BTreeMap<String, RoleDescriptor> = Privilege::ALL
        .into_iter()
        .map(|privilege| {
            (
                privilege.name().to_owned(),
                RoleDescriptor {
                    cluster: vec![privilege],
                    indices: Vec::new(),
                },
            )
        })
        .collect();
    roles.insert(
        "superuser".to_owned(),
        RoleDescriptor {
            cluster: vec![Privilege::All],
            indices: vec![IndicesPrivileges {
                names: vec!["*".to_owned()],
                privileges: vec![IndexPrivilege::All],
            }],
        },
    );
    roles
}

/// Compares without an early exit, so the time taken does not reveal a matching prefix.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != given.len());
    for index in 0..expected.len().max(given.len()) {
        let a = expected.get(index).copied().unwrap_or(0);
        let b = given.get(index).copied().unwrap_or(0);
        difference |= a ^ b;
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    pub(super) fn security() -> Security {
        let users = vec![
            User {
                username: "admin".to_owned(),
                password: SecretString::from("s3cret"),
                roles: vec!["manage_ml".to_owned()],
            },
            User {
                username: "viewer".to_owned(),
                password: SecretString::from("look"),
                roles: vec!["monitor_ml".to_owned()],
            },
        ];
        let keys = vec![ApiKey {
            id: "VuaCfGcBCdbkQm-e5aOx".to_owned(),
            key: SecretString::from("ui2lp2axTNmsyakw9tvNnw"),
            name: Some("ci".to_owned()),
            username: "ci-bot".to_owned(),
            roles: vec!["monitor_ml".to_owned()],
        }];
        let tokens = vec![Token {
            token: SecretString::from("AAEAAWVsYXN0aWMvZmxlZXQ"),
            username: "elastic/fleet-server".to_owned(),
            name: Some("fleet".to_owned()),
            roles: vec!["monitor_ml".to_owned()],
        }];
        Security::new(users, keys, tokens, BTreeMap::new()).expect("security is on")
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    pub(super) fn basic(user: &str, password: &str) -> HeaderMap {
        headers(&format!(
            "Basic {}",
            STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    fn api_key(id: &str, key: &str) -> HeaderMap {
        headers(&format!(
            "ApiKey {}",
            STANDARD.encode(format!("{id}:{key}"))
        ))
    }

    fn challenges(error: &EsError) -> Vec<&str> {
        error
            .headers
            .iter()
            .filter(|(name, _)| *name == WWW_AUTHENTICATE)
            .map(|(_, value)| value.to_str().unwrap())
            .collect()
    }

    #[test]
    fn no_users_means_security_off() {
        assert!(Security::new(Vec::new(), Vec::new(), Vec::new(), BTreeMap::new()).is_none());
    }

    #[test]
    fn missing_credentials_is_401_with_challenges() {
        let error = security()
            .authenticate(&HeaderMap::new(), "/_ml/info?pretty")
            .unwrap_err();
        assert_eq!(error.status.as_u16(), 401);
        assert_eq!(error.error_type(), Some("security_exception"));
        assert_eq!(
            error.reason(),
            "missing authentication credentials for REST request [/_ml/info?pretty]"
        );
        assert_eq!(
            challenges(&error),
            ["Basic realm=\"security\" charset=\"UTF-8\"", "ApiKey"]
        );
    }

    #[test]
    fn wrong_password_and_unknown_user_look_the_same() {
        for (user, password) in [("admin", "nope"), ("ghost", "s3cret"), ("admin", "s3cre")] {
            let error = security()
                .authenticate(&basic(user, password), "/")
                .unwrap_err();
            assert_eq!(error.status.as_u16(), 401);
            assert_eq!(
                error.reason(),
                format!("unable to authenticate user [{user}] for REST request [/]")
            );
            assert_eq!(challenges(&error).len(), 2);
        }
    }

    #[test]
    fn basic_and_api_key_authenticate() {
        let admin = security()
            .authenticate(&basic("admin", "s3cret"), "/")
            .unwrap();
        assert_eq!(admin.username, "admin");
        let key = security()
            .authenticate(
                &api_key("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"),
                "/",
            )
            .unwrap();
        assert_eq!(key.username, "ci-bot");
    }

    #[test]
    fn bearer_tokens_authenticate_service_accounts() {
        let fleet = security()
            .authenticate(&headers("Bearer AAEAAWVsYXN0aWMvZmxlZXQ"), "/")
            .unwrap();
        assert_eq!(fleet.username, "elastic/fleet-server");
        let body = fleet.authenticate_body();
        assert_eq!(body["authentication_type"], "token");
        assert_eq!(body["authentication_realm"]["type"], "_service_account");
        let error = fleet
            .authorize("cluster:admin/xpack/ml/job/close", Privilege::ManageMl)
            .unwrap_err();
        assert_eq!(
            error.reason(),
            "action [cluster:admin/xpack/ml/job/close] is unauthorized for service account \
             [elastic/fleet-server], this action is granted by the cluster privileges \
             [manage_ml,manage,all]"
        );
        let error = security()
            .authenticate(&headers("Bearer wrong"), "/")
            .unwrap_err();
        assert_eq!(error.status.as_u16(), 401);
    }

    #[test]
    fn the_token_service_adds_a_bearer_challenge() {
        let error = security()
            .with_token_service()
            .authenticate(&HeaderMap::new(), "/")
            .unwrap_err();
        assert_eq!(
            challenges(&error),
            [
                "Basic realm=\"security\" charset=\"UTF-8\"",
                "Bearer realm=\"security\"",
                "ApiKey"
            ]
        );
        let body = error.to_json();
        assert_eq!(
            body["error"]["header"]["WWW-Authenticate"],
            json!(challenges(&error))
        );
        assert_eq!(
            body["error"]["root_cause"][0]["header"],
            body["error"]["header"]
        );
    }

    #[test]
    fn wrong_api_key_is_refused() {
        for header in [
            api_key("VuaCfGcBCdbkQm-e5aOx", "wrong"),
            api_key("unknown", "ui2lp2axTNmsyakw9tvNnw"),
            headers("ApiKey !!!"),
        ] {
            let error = security().authenticate(&header, "/").unwrap_err();
            assert_eq!(error.status.as_u16(), 401);
            assert_eq!(
                error.reason(),
                "unable to authenticate with provided credentials and anonymous access is not \
                 allowed for this request"
            );
        }
    }

    #[test]
    fn user_403_names_roles_and_granting_privileges() {
        let viewer = security()
            .authenticate(&basic("viewer", "look"), "/")
            .unwrap();
        assert!(
            viewer
                .authorize(
                    "cluster:monitor/xpack/ml/job/stats/get",
                    Privilege::MonitorMl
                )
                .is_ok()
        );
        let error = viewer
            .authorize("cluster:admin/xpack/ml/datafeed/stop", Privilege::ManageMl)
            .unwrap_err();
        assert_eq!(error.status.as_u16(), 403);
        assert_eq!(error.error_type(), Some("security_exception"));
        assert_eq!(
            error.reason(),
            "action [cluster:admin/xpack/ml/datafeed/stop] is unauthorized for user [viewer] with \
             effective roles [monitor_ml], this action is granted by the cluster privileges \
             [manage_ml,manage,all]"
        );
    }

    #[test]
    fn monitor_actions_list_five_granting_privileges() {
        let principal = security().principal("nobody", &[]);
        let error = principal
            .authorize("cluster:monitor/xpack/ml/job/get", Privilege::MonitorMl)
            .unwrap_err();
        assert_eq!(
            error.reason(),
            "action [cluster:monitor/xpack/ml/job/get] is unauthorized for user [nobody] with \
             effective roles [], this action is granted by the cluster privileges \
             [monitor_ml,manage_ml,monitor,manage,all]"
        );
    }

    #[test]
    fn api_key_403_names_the_key() {
        let key = security()
            .authenticate(
                &api_key("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"),
                "/",
            )
            .unwrap();
        let error = key
            .authorize("cluster:admin/xpack/ml/job/close", Privilege::ManageMl)
            .unwrap_err();
        assert_eq!(
            error.reason(),
            "action [cluster:admin/xpack/ml/job/close] is unauthorized for API key id \
             [VuaCfGcBCdbkQm-e5aOx] of user [ci-bot], this action is granted by the cluster \
             privileges [manage_ml,manage,all]"
        );
        let error = key
            .authorize("cluster:monitor/main", Privilege::Monitor)
            .unwrap_err();
        assert!(
            error.reason().ends_with("[monitor,manage,all]"),
            "{}",
            error.reason()
        );
    }

    #[test]
    fn authenticate_bodies_for_users_and_keys() {
        let admin = security()
            .authenticate(&basic("admin", "s3cret"), "/")
            .unwrap();
        let body = admin.authenticate_body();
        assert_eq!(body["username"], "admin");
        assert_eq!(body["roles"], json!(["manage_ml"]));
        assert_eq!(body["authentication_type"], "realm");
        assert!(body.get("api_key").is_none());
        let key = security()
            .authenticate(
                &api_key("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"),
                "/",
            )
            .unwrap();
        let body = key.authenticate_body();
        assert_eq!(body["authentication_type"], "api_key");
        assert_eq!(
            body["api_key"],
            json!({"id": "VuaCfGcBCdbkQm-e5aOx", "name": "ci"})
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let text = format!("{:?}", security());
        assert!(
            !text.contains("s3cret") && !text.contains("ui2lp2axTNmsyakw9tvNnw"),
            "{text}"
        );
    }

    #[test]
    fn constant_time_eq_compares_fully() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
