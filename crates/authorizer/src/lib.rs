//! The rules of sluice's API Gateway REQUEST authorizer: HTTP Basic credentials checked in constant time
//! against the credential sets of a [`CredentialsSource`] (Secrets Manager on AWS, a static list locally),
//! cached for a TTL per warm container.
//!
//! | request | [`Decision`] | API Gateway answers |
//! |---|---|---|
//! | no `Authorization` header, or not `Basic base64(user:pass)` | [`Decision::Unauthorized`] | 401 (the function fails with the message `Unauthorized`) |
//! | well-formed, wrong username or password | [`Decision::Deny`] | 403 (explicit Deny policy) |
//! | well-formed, matches the current credential set, or the previous one within its grace period | [`Decision::Allow`] | the request goes on; `principalId` = username |
//!
//! After a rotation the previous password is accepted only until the current version's creation time plus
//! the grace period (`PREVIOUS_PASSWORD_GRACE_SECONDS`, 0 = never), checked on every request; see
//! [`Authorizer`] for how often the source is read.
//!
//! If the credentials cannot be fetched, nothing is allowed (fail closed): [`Authorizer::decide`] answers
//! [`Decision::Deny`], and [`Authorizer::handle`] fails with [`AuthorizerError::CredentialsUnavailable`] so API
//! Gateway answers 500 without caching a Deny. The failure is remembered for [`NEGATIVE_CACHE`] (5 s), then
//! the source is read again. A failure to read only the previous version is logged and leaves the current
//! password working.
//!
//! Nothing in this crate logs, displays or debug-prints a password or the `Authorization` header.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub use aws::SecretsManagerSource;

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

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

/// The valid credential sets at one moment: the current one and, after a rotation, the previous one, with
/// when the current one was created (the previous set is accepted until then + the grace period).
#[derive(Debug, Clone)]
pub struct CredentialSets {
    pub current: StoredCredentials,
    /// When the current version was created (Secrets Manager's `CreatedDate`; locally, when `cargo xtask
    /// rotate --local` wrote it). The grace period of the previous set counts from here.
    pub current_created: SystemTime,
    /// The previous version, if there is one and it may still be of use.
    pub previous: Option<StoredCredentials>,
    /// The previous version could not be read (an error other than "there is none"): it is not accepted, and
    /// the next request that needs it reads it again after [`NEGATIVE_CACHE`].
    pub previous_failed: bool,
}

impl CredentialSets {
    /// One credential set and no previous one (no rotation has happened).
    pub fn current_only(current: StoredCredentials) -> Self {
        CredentialSets {
            current,
            current_created: SystemTime::UNIX_EPOCH,
            previous: None,
            previous_failed: false,
        }
    }
}

/// Whether the previous password is still accepted at `now`: only while `now < current_created + grace`
/// (so never with a grace of 0).
pub fn previous_accepted(current_created: SystemTime, grace: Duration, now: SystemTime) -> bool {
    !grace.is_zero()
        && current_created
            .checked_add(grace)
            .is_some_and(|until| now < until)
}

/// Where the valid credential sets come from: Secrets Manager on AWS ([`SecretsManagerSource`]), the
/// credentials file of `cargo xtask dev` locally; a fixed [`CredentialSets`] is a source too (tests).
pub trait CredentialsSource: Send + Sync {
    /// The current credential set and, if one exists and `grace` may still let it in, the previous one.
    /// A source may skip reading the previous set once [`previous_accepted`] is false for the current one.
    fn fetch(
        &self,
        grace: Duration,
    ) -> impl Future<Output = Result<CredentialSets, SourceError>> + Send;
}

impl CredentialsSource for CredentialSets {
    async fn fetch(&self, _grace: Duration) -> Result<CredentialSets, SourceError> {
        Ok(self.clone())
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
    matches_any_digest(
        &DigestedCredentials::of(&given.username, &given.password),
        valid,
    )
}

fn matches_any_digest(given: &DigestedCredentials, valid: &[DigestedCredentials]) -> bool {
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

/// How long a warm authorizer keeps the credential sets it read: a request after that reads them again
/// first. So a new password works, a revoked previous one stops working, and a container that read the
/// secret before a rotation stops taking the old password for the current one, all within 10 s; and the
/// source is read at most once per 10 s per container however many requests come (a warm container that is
/// busy all month reads it about 260,000 times: 1.30 USD at 0.05 USD per 10,000 calls).
pub const RECHECK: Duration = Duration::from_secs(10);

/// How long a failed read is remembered: requests in that time fail (closed) without calling the source
/// again, so an outage of the source does not become a failing call per request. A failure to read only
/// the previous set is retried after this long too, by the first request that the current set refuses.
pub const NEGATIVE_CACHE: Duration = Duration::from_secs(5);

/// Default grace period of the previous password (`PREVIOUS_PASSWORD_GRACE_SECONDS`).
pub const DEFAULT_PREVIOUS_PASSWORD_GRACE: Duration = Duration::from_secs(3600);

struct Cached {
    fetched_at: Instant,
    current: DigestedCredentials,
    current_created: SystemTime,
    previous: Option<DigestedCredentials>,
    previous_failed: bool,
}

enum CacheState {
    Empty,
    Fresh(Cached),
    Failed { at: Instant, error: SourceError },
}

/// What the cached sets say about given credentials.
enum Match {
    Current,
    Previous,
    None,
}

/// The authorizer: a credentials source with a cache, the previous password's grace period, and the
/// decision rules.
///
/// - The credential sets are read at most once per [`RECHECK`] (concurrent requests wait for one read),
///   on the first request after that.
/// - The previous set lets a request in only while `now < current_created + grace`, checked per request.
/// - A failed read is kept for [`NEGATIVE_CACHE`]: requests then fail closed without a call.
///
/// The wall clock used for the grace period advances with tokio's clock (it is taken once, at construction,
/// and moved by `Instant`), so paused-time tests move both.
pub struct Authorizer<S> {
    source: S,
    grace: Duration,
    recheck: Duration,
    wall_base: (SystemTime, Instant),
    cache: Mutex<CacheState>,
}

impl<S: CredentialsSource> Authorizer<S> {
    /// `grace`: how long after the current version's creation the previous one is accepted (zero: never).
    pub fn new(source: S, grace: Duration) -> Self {
        Authorizer {
            source,
            grace,
            recheck: RECHECK,
            wall_base: (SystemTime::now(), Instant::now()),
            cache: Mutex::new(CacheState::Empty),
        }
    }

    /// Another [`RECHECK`] interval (tests use zero: read on every request).
    #[must_use]
    pub fn with_recheck(mut self, recheck: Duration) -> Self {
        self.recheck = recheck;
        self
    }

    /// The source behind the cache.
    pub fn source(&self) -> &S {
        &self.source
    }

    fn wall_now(&self) -> SystemTime {
        self.wall_base.0 + self.wall_base.1.elapsed()
    }

    async fn read(&self, state: &mut CacheState) -> Result<(), SourceError> {
        // Boxed: the SDK's futures are deep, and the function's `main` future would otherwise overflow the
        // compiler's layout depth limit.
        match Box::pin(self.source.fetch(self.grace)).await {
            Ok(sets) => {
                *state = CacheState::Fresh(Cached {
                    fetched_at: Instant::now(),
                    current: DigestedCredentials::of(
                        &sets.current.username,
                        &sets.current.password,
                    ),
                    current_created: sets.current_created,
                    previous: sets
                        .previous
                        .as_ref()
                        .map(|p| DigestedCredentials::of(&p.username, &p.password)),
                    previous_failed: sets.previous_failed,
                });
                Ok(())
            }
            Err(error) => {
                // Keep nothing stale: fail closed for NEGATIVE_CACHE, then read again.
                tracing::error!(error = %error, "could not fetch the valid credentials; denying");
                *state = CacheState::Failed {
                    at: Instant::now(),
                    error: error.clone(),
                };
                Err(error)
            }
        }
    }

    fn classify(&self, cached: &Cached, given: &DigestedCredentials) -> Match {
        if matches_any_digest(given, std::slice::from_ref(&cached.current)) {
            return Match::Current;
        }
        let in_grace = previous_accepted(cached.current_created, self.grace, self.wall_now());
        match &cached.previous {
            Some(previous)
                if in_grace && matches_any_digest(given, std::slice::from_ref(previous)) =>
            {
                Match::Previous
            }
            _ => Match::None,
        }
    }

    /// Whether `given` matches a valid set now, reading the source as the rules above say.
    async fn is_valid(&self, given: &Credentials) -> Result<bool, SourceError> {
        let given = DigestedCredentials::of(&given.username, &given.password);
        let mut state = self.cache.lock().await;
        let fresh = match &*state {
            CacheState::Failed { at, error } if at.elapsed() < NEGATIVE_CACHE => {
                return Err(error.clone());
            }
            CacheState::Fresh(c) => c.fetched_at.elapsed() < self.recheck,
            _ => false,
        };
        if !fresh {
            self.read(&mut state).await?;
        }
        let CacheState::Fresh(cached) = &*state else {
            return Ok(false);
        };
        match self.classify(cached, &given) {
            Match::Current | Match::Previous => Ok(true),
            // The previous set could not be read: try again, at most once per NEGATIVE_CACHE.
            Match::None
                if cached.previous_failed && cached.fetched_at.elapsed() >= NEGATIVE_CACHE =>
            {
                self.read(&mut state).await?;
                let CacheState::Fresh(cached) = &*state else {
                    return Ok(false);
                };
                Ok(!matches!(self.classify(cached, &given), Match::None))
            }
            Match::None => Ok(false),
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
        Ok(if self.is_valid(&given).await? {
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

/// `PREVIOUS_PASSWORD_GRACE_SECONDS`: whole seconds, default 3600, 0 = the previous password is never accepted.
pub fn previous_password_grace_from(value: Option<&str>) -> Result<Duration, AuthorizerError> {
    seconds_setting(
        sluice_contract::env::PREVIOUS_PASSWORD_GRACE_SECONDS,
        value,
        DEFAULT_PREVIOUS_PASSWORD_GRACE,
        "a whole number of seconds, e.g. 3600 (0: never accept the previous password)",
    )
}

fn seconds_setting(
    name: &'static str,
    value: Option<&str>,
    default: Duration,
    expected: &'static str,
) -> Result<Duration, AuthorizerError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| AuthorizerError::InvalidSetting {
                    name,
                    value: v.to_owned(),
                    expected,
                })
        }
    }
}

#[cfg(test)]
mod tests;
