//! The rules of sluice's API Gateway REQUEST authorizer: HTTP Basic credentials checked in constant time
//! against the credential sets of a [`CredentialsSource`] (Secrets Manager on AWS, a static list locally),
//! cached for a TTL per warm container.
//!
//! | request | [`Decision`] | API Gateway answers |
//! |---|---|---|
//! | no `Authorization` header, or not `Basic base64(user:pass)` | [`Decision::Unauthorized`] | 401 (the function fails with the message `Unauthorized`) |
//! | well-formed, wrong username or password | [`Decision::Deny`] | 403 (explicit Deny policy) |
//! | well-formed, matches a current or previous credential set | [`Decision::Allow`] | the request goes on; `principalId` = username |
//!
//! If the credentials cannot be fetched, nothing is allowed (fail closed): [`Authorizer::decide`] answers
//! [`Decision::Deny`], and [`Authorizer::handle`] fails with [`AuthorizerError::CredentialsUnavailable`] so API
//! Gateway answers 500 without caching a Deny. The next request fetches again.
//!
//! Nothing in this crate logs, displays or debug-prints a password or the `Authorization` header.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerPolicy;
/// The event and answer types of [`Authorizer::handle`], re-exported for callers.
pub use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Default lifetime of the cached credential sets (`CREDENTIALS_CACHE_TTL_SECONDS`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// Everything that can go wrong in the authorizer. The `Display` text never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// Missing or malformed `Authorization` header. The message must be exactly `Unauthorized`:
    /// that is what makes API Gateway answer 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The credential sets could not be fetched; nothing is allowed.
    #[error("credentials unavailable: {0}")]
    CredentialsUnavailable(#[from] SourceError),
    /// The request's `methodArn` is not `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/…`.
    #[error(
        "methodArn {0:?} is not an execute-api method ARN (arn:aws:execute-api:region:account:apiId/stage/method/path)"
    )]
    InvalidMethodArn(String),
    /// A setting read from the environment is invalid.
    #[error("environment variable {name} = {value:?} is invalid: {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A required environment variable is not set.
    #[error("environment variable {0} is not set; the generated Terraform sets it on the function")]
    MissingSetting(&'static str),
}

impl AuthorizerError {
    /// A stable, secret-free error type for the Lambda error report.
    pub fn error_type(&self) -> &'static str {
        match self {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::CredentialsUnavailable(_) => "CredentialsUnavailable",
            AuthorizerError::InvalidMethodArn(_) => "InvalidMethodArn",
            AuthorizerError::InvalidSetting { .. } | AuthorizerError::MissingSetting(_) => {
                "InvalidConfiguration"
            }
        }
    }
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Why a credentials source failed. The text names the source and the failure, never secret content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Why an `Authorization` header is not `Basic base64(username:password)`. Carries no part of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedHeader {
    #[error("the Authorization scheme is not Basic")]
    NotBasic,
    #[error("the Basic credentials are not valid base64")]
    BadBase64,
    #[error("the decoded Basic credentials are not UTF-8")]
    NotUtf8,
    #[error("the decoded Basic credentials have no ':' between username and password")]
    NoColon,
    #[error("the username is empty")]
    EmptyUsername,
    #[error("the password is empty")]
    EmptyPassword,
    #[error("the request carries more than one Authorization header")]
    Ambiguous,
}

/// Credentials presented by a client. `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One valid credential set, as stored in the secret: `{"username":"…","password":"…"}`.
/// `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct StoredCredentials {
    pub username: String,
    pub password: String,
}

impl StoredCredentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        StoredCredentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Parses a secret string `{"username":"…","password":"…"}`. The error never quotes the secret.
    pub fn from_secret_string(secret: &str) -> Result<Self, SourceError> {
        let stored: StoredCredentials = serde_json::from_str(secret).map_err(|e| {
            SourceError(format!(
                "the secret is not a JSON object {{\"username\":…,\"password\":…}} ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        if stored.username.is_empty() || stored.password.is_empty() {
            return Err(SourceError(
                "the secret has an empty username or password".into(),
            ));
        }
        Ok(stored)
    }
}

impl fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses an `Authorization` header value `Basic base64(username:password)`.
///
/// The scheme is case-insensitive; the username ends at the first `:` (the password may contain `:`);
/// both must be non-empty; any UTF-8 is accepted.
pub fn parse_basic(header: &str) -> Result<Credentials, MalformedHeader> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once([' ', '\t'])
        .ok_or(MalformedHeader::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(MalformedHeader::NotBasic);
    }
    let encoded = rest.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| MalformedHeader::BadBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MalformedHeader::NotUtf8)?;
    let (username, password) = decoded.split_once(':').ok_or(MalformedHeader::NoColon)?;
    if username.is_empty() {
        return Err(MalformedHeader::EmptyUsername);
    }
    if password.is_empty() {
        return Err(MalformedHeader::EmptyPassword);
    }
    Ok(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// The `Authorization` header of an authorizer request, whatever its case (`headers`, then
/// `multiValueHeaders`). `Err(Ambiguous)` if it appears more than once, `Ok(None)` if absent.
pub fn authorization_header(
    req: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Option<&str>, MalformedHeader> {
    // `HeaderMap` names are case-insensitive (normalised to lower case on deserialisation).
    for map in [&req.headers, &req.multi_value_headers] {
        let mut values = map.get_all("authorization").iter();
        if let Some(first) = values.next() {
            if values.next().is_some() {
                return Err(MalformedHeader::Ambiguous);
            }
            return first
                .to_str()
                .map(Some)
                .map_err(|_| MalformedHeader::NotBasic);
        }
    }
    Ok(None)
}

/// Where the valid credential sets come from: Secrets Manager on AWS ([`SecretsManagerSource`]), a fixed
/// list locally ([`StaticSource`]).
pub trait CredentialsSource: Send + Sync {
    /// Every currently valid credential set: the current one and, during a rotation, the previous one.
    fn fetch(&self) -> impl Future<Output = Result<Vec<StoredCredentials>, SourceError>> + Send;
}

/// A fixed list of credential sets (the local runtime's source).
#[derive(Debug, Clone)]
pub struct StaticSource(pub Vec<StoredCredentials>);

impl CredentialsSource for StaticSource {
    async fn fetch(&self) -> Result<Vec<StoredCredentials>, SourceError> {
        Ok(self.0.clone())
    }
}

/// A Secrets Manager secret holding `{"username":"…","password":"…"}`: its `AWSCURRENT` version and, if
/// present, its `AWSPREVIOUS` version (so clients keep working during a rotation).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSource {
            client,
            secret_id: secret_id.into(),
        }
    }

    async fn version(&self, stage: &str) -> Result<Option<StoredCredentials>, SourceError> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        match result {
            Ok(output) => {
                let secret = output.secret_string().ok_or_else(|| {
                    SourceError(format!(
                        "secret {} ({stage}) has no SecretString",
                        self.secret_id
                    ))
                })?;
                StoredCredentials::from_secret_string(secret)
                    .map(Some)
                    .map_err(|e| SourceError(format!("secret {} ({stage}): {e}", self.secret_id)))
            }
            Err(err) => {
                let not_found = err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                if not_found && stage == "AWSPREVIOUS" {
                    // No rotation has happened yet: only the current version exists.
                    return Ok(None);
                }
                let code = err.code().unwrap_or("no error code");
                let message = err.message().unwrap_or("");
                Err(SourceError(format!(
                    "GetSecretValue {} ({stage}) failed: {code}: {message} ({})",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&err)
                )))
            }
        }
    }
}

impl CredentialsSource for SecretsManagerSource {
    async fn fetch(&self) -> Result<Vec<StoredCredentials>, SourceError> {
        let (current, previous) =
            tokio::join!(self.version("AWSCURRENT"), self.version("AWSPREVIOUS"));
        let current = current?.ok_or_else(|| {
            SourceError(format!(
                "secret {} has no AWSCURRENT version",
                self.secret_id
            ))
        })?;
        let mut all = vec![current];
        all.extend(previous?);
        Ok(all)
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The credentials match a valid set; `principal` is the username.
    Allow { principal: String },
    /// Well-formed credentials that match no valid set (or the valid sets could not be fetched).
    Deny,
    /// No `Authorization` header, or not `Basic base64(user:pass)`.
    Unauthorized,
}

/// SHA-256 digests of one stored credential set; compared in constant time.
#[derive(Clone)]
struct DigestedCredentials {
    username: [u8; 32],
    password: [u8; 32],
}

impl DigestedCredentials {
    fn of(username: &str, password: &str) -> Self {
        DigestedCredentials {
            username: Sha256::digest(username).into(),
            password: Sha256::digest(password).into(),
        }
    }
}

/// `true` if `given` matches any of `valid`. Compares fixed-size SHA-256 digests of both the username and the
/// password against every set, combining with non-short-circuiting `&`/`|`, so the time taken does not depend
/// on which part differs, where, or which set matched.
fn matches_any(given: &Credentials, valid: &[DigestedCredentials]) -> bool {
    let given = DigestedCredentials::of(&given.username, &given.password);
    let mut any = Choice::from(0);
    for stored in valid {
        let user = given.username.ct_eq(&stored.username);
        let pass = given.password.ct_eq(&stored.password);
        any |= user & pass;
    }
    any.into()
}

/// Constant-time check of credentials against credential sets (no caching, no source).
pub fn check(given: &Credentials, valid: &[StoredCredentials]) -> bool {
    let digests: Vec<_> = valid
        .iter()
        .map(|s| DigestedCredentials::of(&s.username, &s.password))
        .collect();
    matches_any(given, &digests)
}

struct Cached {
    fetched_at: Instant,
    credentials: Vec<DigestedCredentials>,
}

/// The authorizer: a credentials source with a TTL cache, and the decision rules.
///
/// The source is fetched at most once per TTL (concurrent requests wait for one fetch), refreshed on the
/// first request after expiry, and — when a fetch fails — not cached, so the next request tries again.
pub struct Authorizer<S> {
    source: S,
    ttl: Duration,
    cache: Mutex<Option<Cached>>,
}

impl<S: CredentialsSource> Authorizer<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Authorizer {
            source,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// The source behind the cache.
    pub fn source(&self) -> &S {
        &self.source
    }

    async fn valid_credentials(&self) -> Result<Vec<DigestedCredentials>, SourceError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.fetched_at.elapsed() < self.ttl
        {
            return Ok(cached.credentials.clone());
        }
        match self.source.fetch().await {
            Ok(sets) => {
                let credentials: Vec<_> = sets
                    .iter()
                    .map(|s| DigestedCredentials::of(&s.username, &s.password))
                    .collect();
                *cache = Some(Cached {
                    fetched_at: Instant::now(),
                    credentials: credentials.clone(),
                });
                Ok(credentials)
            }
            Err(error) => {
                // Keep nothing stale beyond its TTL: fail closed now, fetch again on the next request.
                *cache = None;
                tracing::error!(error = %error, "could not fetch the valid credentials; denying");
                Err(error)
            }
        }
    }

    /// Decides a request from its `Authorization` header value; a source failure is an error.
    pub async fn try_decide(
        &self,
        authorization_header: Option<&str>,
    ) -> Result<Decision, SourceError> {
        let Some(header) = authorization_header else {
            return Ok(Decision::Unauthorized);
        };
        let Ok(given) = parse_basic(header) else {
            return Ok(Decision::Unauthorized);
        };
        let valid = self.valid_credentials().await?;
        Ok(if matches_any(&given, &valid) {
            Decision::Allow {
                principal: given.username,
            }
        } else {
            Decision::Deny
        })
    }

    /// Decides a request from its `Authorization` header value. Fails closed: if the valid credentials
    /// cannot be fetched, a well-formed header gets [`Decision::Deny`].
    pub async fn decide(&self, authorization_header: Option<&str>) -> Decision {
        self.try_decide(authorization_header)
            .await
            .unwrap_or(Decision::Deny)
    }

    /// The Lambda handler: an API Gateway REQUEST authorizer event in, a policy out.
    ///
    /// - Allow → `principalId` = username, an Allow policy on every method and path of the stage
    ///   (`arn:…:execute-api:region:account:apiId/stage/*/*`), so API Gateway's authorizer result cache
    ///   cannot deny another route to the same caller;
    /// - Deny → an explicit Deny policy on the same resource;
    /// - Unauthorized → `Err(AuthorizerError::Unauthorized)`, whose message `Unauthorized` makes API Gateway
    ///   answer 401;
    /// - source failure → `Err(AuthorizerError::CredentialsUnavailable)` (API Gateway answers 500, caches nothing).
    pub async fn handle(
        &self,
        req: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
        let header = authorization_header(&req).map_err(|_| AuthorizerError::Unauthorized)?;
        let decision = self.try_decide(header).await?;
        let method_arn = req.method_arn.as_deref().unwrap_or("");
        match decision {
            Decision::Unauthorized => Err(AuthorizerError::Unauthorized),
            Decision::Allow { principal } => Ok(policy(
                Some(principal),
                IamPolicyEffect::Allow,
                &stage_resource(method_arn)?,
            )),
            Decision::Deny => Ok(policy(
                None,
                IamPolicyEffect::Deny,
                &stage_resource(method_arn)?,
            )),
        }
    }
}

/// `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/*/*` from a method ARN
/// `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path…>`.
pub fn stage_resource(method_arn: &str) -> Result<String, AuthorizerError> {
    let invalid = || AuthorizerError::InvalidMethodArn(method_arn.to_owned());
    let parts: Vec<&str> = method_arn.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    if *arn != "arn"
        || *service != "execute-api"
        || partition.is_empty()
        || region.is_empty()
        || account.is_empty()
    {
        return Err(invalid());
    }
    let mut segments = resource.split('/');
    let (Some(api_id), Some(stage)) = (segments.next(), segments.next()) else {
        return Err(invalid());
    };
    if api_id.is_empty() || stage.is_empty() {
        return Err(invalid());
    }
    Ok(format!(
        "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/*/*"
    ))
}

fn policy(
    principal: Option<String>,
    effect: IamPolicyEffect,
    resource: &str,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource.to_owned()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    // API Gateway requires a principalId on every policy response; a Deny has no authenticated user.
    response.principal_id = Some(principal.unwrap_or_else(|| "anonymous".to_owned()));
    response.policy_document = document;
    response.context = serde_json::Value::Object(serde_json::Map::new());
    response
}

/// `CREDENTIALS_CACHE_TTL_SECONDS`: whole seconds, default 300.
pub fn cache_ttl_from(value: Option<&str>) -> Result<Duration, AuthorizerError> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_CACHE_TTL),
        Some(v) => {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| AuthorizerError::InvalidSetting {
                    name: sluice_contract::env::CREDENTIALS_CACHE_TTL_SECONDS,
                    value: v.to_owned(),
                    expected: "a whole number of seconds, e.g. 300",
                })
        }
    }
}

#[cfg(test)]
mod tests;
