use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

use super::*;

fn basic(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

// ---- header parsing ----

#[test]
fn parses_basic_credentials() {
    let c = parse_basic(&basic("alice:s3cret")).unwrap();
    assert_eq!(c.username, "alice");
    assert_eq!(c.password, "s3cret");
}

#[test]
fn scheme_is_case_insensitive_and_whitespace_tolerant() {
    let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pw");
    for header in [
        format!("basic {encoded}"),
        format!("BASIC {encoded}"),
        format!("bAsIc   {encoded}  "),
    ] {
        assert_eq!(parse_basic(&header).unwrap().username, "alice", "{header}");
    }
}

#[test]
fn password_may_contain_colons_and_unicode() {
    let c = parse_basic(&basic("jürgen:pä:ss🔑")).unwrap();
    assert_eq!(c.username, "jürgen");
    assert_eq!(c.password, "pä:ss🔑");
}

#[test]
fn unpadded_base64_is_accepted() {
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode("ab:c");
    assert_eq!(
        parse_basic(&format!("Basic {encoded}")).unwrap().password,
        "c"
    );
}

#[test]
fn malformed_headers_are_rejected_with_a_reason() {
    let cases = [
        ("Bearer abc", MalformedHeader::NotBasic),
        ("Basic", MalformedHeader::NotBasic),
        ("", MalformedHeader::NotBasic),
        ("Basicabc", MalformedHeader::NotBasic),
        ("Basic !!!notbase64!!!", MalformedHeader::BadBase64),
        ("Basic YWxpY2U=", MalformedHeader::NoColon), // "alice"
        (&basic(":pw"), MalformedHeader::EmptyUsername),
        (&basic("alice:"), MalformedHeader::EmptyPassword),
        (&basic(":"), MalformedHeader::EmptyUsername),
        ("Basic /w==", MalformedHeader::NotUtf8), // 0xFF
    ];
    for (header, expected) in cases {
        assert_eq!(parse_basic(header), Err(expected), "{header:?}");
    }
}

#[test]
fn debug_output_never_shows_a_password() {
    let c = parse_basic(&basic("alice:topsecret")).unwrap();
    let s = StoredCredentials::new("bob", "topsecret");
    assert!(!format!("{c:?}{s:?}").contains("topsecret"));
}

#[test]
fn secret_string_errors_do_not_quote_the_secret() {
    let err = StoredCredentials::from_secret_string(r#"{"username":"alice","password":12345678}"#)
        .unwrap_err();
    assert!(!err.to_string().contains("12345678"), "{err}");
    assert!(
        StoredCredentials::from_secret_string(r#"{"username":"alice","password":""}"#).is_err()
    );
    assert_eq!(
        StoredCredentials::from_secret_string(r#"{"username":"alice","password":"pw","extra":1}"#)
            .unwrap(),
        StoredCredentials::new("alice", "pw")
    );
}

// ---- constant-time comparison ----

#[test]
fn check_requires_both_username_and_password_to_match() {
    let valid = [StoredCredentials::new("alice", "pw1")];
    let given = |u: &str, p: &str| Credentials {
        username: u.into(),
        password: p.into(),
    };
    assert!(check(&given("alice", "pw1"), &valid));
    assert!(!check(&given("alice", "pw2"), &valid));
    assert!(!check(&given("bob", "pw1"), &valid));
    assert!(!check(&given("alice", "pw1 "), &valid));
    assert!(
        !check(&given("alic", "pw1"), &valid),
        "a prefix must not match"
    );
    assert!(!check(&given("alice", "pw1"), &[]));
}

#[test]
fn check_does_not_mix_username_of_one_set_with_password_of_another() {
    let valid = [
        StoredCredentials::new("alice", "pw-a"),
        StoredCredentials::new("bob", "pw-b"),
    ];
    let given = |u: &str, p: &str| Credentials {
        username: u.into(),
        password: p.into(),
    };
    assert!(check(&given("bob", "pw-b"), &valid));
    assert!(!check(&given("alice", "pw-b"), &valid));
    assert!(!check(&given("bob", "pw-a"), &valid));
}

#[test]
fn comparison_is_on_fixed_size_digests() {
    // Lengths differ wildly, yet comparison still works (the digests are always 32 bytes).
    let long = "x".repeat(10_000);
    let valid = [StoredCredentials::new(long.clone(), long.clone())];
    assert!(check(
        &Credentials {
            username: long.clone(),
            password: long.clone()
        },
        &valid
    ));
    assert!(!check(
        &Credentials {
            username: "x".into(),
            password: long
        },
        &valid
    ));
}

// ---- policy shape ----

const METHOD_ARN: &str =
    "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/submit/orders/e1";

#[test]
fn stage_resource_wildcards_method_and_path() {
    assert_eq!(
        stage_resource(METHOD_ARN).unwrap(),
        "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"
    );
    assert_eq!(
        stage_resource("arn:aws-cn:execute-api:cn-north-1:1:api/dev/GET/").unwrap(),
        "arn:aws-cn:execute-api:cn-north-1:1:api/dev/*/*"
    );
    for bad in [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:execute-api:r:a:api",
        "arn:aws:execute-api:r:a:/prod/GET/x",
        "nope",
    ] {
        assert!(
            matches!(
                stage_resource(bad),
                Err(AuthorizerError::InvalidMethodArn(_))
            ),
            "{bad}"
        );
    }
}

fn request(headers: serde_json::Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(serde_json::json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/submit/{streamName}/{eventId}",
        "path": "/submit/orders/e1",
        "httpMethod": "POST",
        "headers": headers,
        "requestContext": {"stage": "prod", "apiId": "abc123", "accountId": "123456789012"}
    }))
    .unwrap()
}

fn authorizer() -> Authorizer<CredentialSets> {
    Authorizer::new(
        CredentialSets::current_only(StoredCredentials::new("alice", "pw")),
        DEFAULT_PREVIOUS_PASSWORD_GRACE,
    )
}

#[tokio::test]
async fn allow_policy_covers_the_whole_stage_and_names_the_user() {
    let response = authorizer()
        .handle(request(
            serde_json::json!({"Authorization": basic("alice:pw")}),
        ))
        .await
        .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["principalId"], "alice");
    assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
    let statements = json["policyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["execute-api:Invoke"])
    );
    assert_eq!(
        statements[0]["Resource"],
        serde_json::json!(["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"])
    );
}

#[tokio::test]
async fn header_name_is_case_insensitive() {
    for name in ["authorization", "AUTHORIZATION", "AuThOrIzAtIoN"] {
        let response = authorizer()
            .handle(request(serde_json::json!({ name: basic("alice:pw") })))
            .await
            .unwrap();
        assert_eq!(response.principal_id.as_deref(), Some("alice"), "{name}");
    }
}

#[tokio::test]
async fn multi_value_headers_are_read_when_headers_are_absent() {
    let mut json = serde_json::to_value(request(serde_json::json!({}))).unwrap();
    json["headers"] = serde_json::json!({});
    json["multiValueHeaders"] = serde_json::json!({"Authorization": [basic("alice:pw")]});
    let req: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(json).unwrap();
    assert_eq!(
        authorizer()
            .handle(req)
            .await
            .unwrap()
            .principal_id
            .as_deref(),
        Some("alice")
    );
}

#[tokio::test]
async fn two_authorization_headers_are_unauthorized() {
    let mut json = serde_json::to_value(request(serde_json::json!({}))).unwrap();
    json["multiValueHeaders"] =
        serde_json::json!({"Authorization": [basic("alice:pw"), basic("bob:x")]});
    let req: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(json).unwrap();
    assert!(matches!(
        authorizer().handle(req).await,
        Err(AuthorizerError::Unauthorized)
    ));
}

#[tokio::test]
async fn wrong_credentials_get_an_explicit_deny_on_the_same_resource() {
    let response = authorizer()
        .handle(request(
            serde_json::json!({"Authorization": basic("alice:nope")}),
        ))
        .await
        .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        json["policyDocument"]["Statement"][0]["Resource"],
        serde_json::json!(["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"])
    );
    assert_ne!(json["principalId"], "alice");
}

#[tokio::test]
async fn missing_or_malformed_header_fails_with_the_exact_message_unauthorized() {
    for headers in [
        serde_json::json!({}),
        serde_json::json!({"Authorization": "Bearer x"}),
        serde_json::json!({"Authorization": "Basic %%%"}),
    ] {
        let err = authorizer()
            .handle(request(headers.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "Unauthorized", "{headers}");
        assert_eq!(err.error_type(), "Unauthorized");
    }
}

#[tokio::test]
async fn decide_maps_every_case() {
    let a = authorizer();
    assert_eq!(a.decide(None).await, Decision::Unauthorized);
    assert_eq!(a.decide(Some("Basic")).await, Decision::Unauthorized);
    assert_eq!(a.decide(Some(&basic("alice:x"))).await, Decision::Deny);
    assert_eq!(
        a.decide(Some(&basic("alice:pw"))).await,
        Decision::Allow {
            principal: "alice".into()
        }
    );
}

// ---- cache TTL, failures, rotation ----

/// A source that counts fetches and answers from a script that the test can change.
#[derive(Clone)]
struct ScriptedSource {
    fetches: Arc<AtomicUsize>,
    answer: Arc<std::sync::Mutex<Result<CredentialSets, SourceError>>>,
}

impl ScriptedSource {
    fn new(sets: CredentialSets) -> Self {
        ScriptedSource {
            fetches: Arc::default(),
            answer: Arc::new(std::sync::Mutex::new(Ok(sets))),
        }
    }
    fn current(password: &str) -> Self {
        Self::new(only(password))
    }
    fn set(&self, answer: Result<CredentialSets, SourceError>) {
        *self.answer.lock().unwrap() = answer;
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl CredentialsSource for ScriptedSource {
    async fn fetch(&self, _grace: Duration) -> Result<CredentialSets, SourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.answer.lock().unwrap().clone()
    }
}

fn only(password: &str) -> CredentialSets {
    CredentialSets::current_only(StoredCredentials::new("alice", password))
}

/// `current` created now (wall clock), `previous` as the version before it.
fn rotated(current: &str, previous: &str) -> CredentialSets {
    CredentialSets {
        current: StoredCredentials::new("alice", current),
        current_created: SystemTime::now(),
        previous: Some(StoredCredentials::new("alice", previous)),
        previous_failed: false,
    }
}

const HOUR: Duration = Duration::from_secs(3600);

async fn allowed<S: CredentialsSource>(a: &Authorizer<S>, user_pass: &str) -> bool {
    matches!(
        a.decide(Some(&basic(user_pass))).await,
        Decision::Allow { .. }
    )
}

#[tokio::test(start_paused = true)]
async fn reads_at_most_once_per_recheck_interval_and_again_after_it() {
    let source = ScriptedSource::new(rotated("new", "old"));
    let a = Authorizer::new(source.clone(), HOUR);

    // Malformed or missing headers never touch the source.
    assert_eq!(a.decide(None).await, Decision::Unauthorized);
    assert_eq!(source.fetches(), 0);

    for _ in 0..50 {
        assert!(allowed(&a, "alice:new").await);
        assert!(allowed(&a, "alice:old").await);
        assert_eq!(a.decide(Some(&basic("alice:x"))).await, Decision::Deny);
    }
    assert_eq!(source.fetches(), 1, "150 requests, one read");

    // The secret is rotated again; the cached sets are used until RECHECK has passed.
    source.set(Ok(rotated("newest", "new")));
    tokio::time::advance(RECHECK - Duration::from_millis(1)).await;
    assert!(allowed(&a, "alice:old").await);
    assert_eq!(a.decide(Some(&basic("alice:newest"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 1);

    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(
        a.decide(Some(&basic("alice:old"))).await,
        Decision::Deny,
        "neither current nor previous any more"
    );
    assert!(allowed(&a, "alice:newest").await);
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_previous_password_stops_exactly_at_creation_plus_grace() {
    let grace = Duration::from_secs(120);
    let source = ScriptedSource::new(rotated("new", "old"));
    // A cached previous set stops at created + grace, not at the next read.
    let a = Authorizer::new(source.clone(), grace).with_recheck(HOUR);
    assert!(allowed(&a, "alice:old").await);
    tokio::time::advance(grace - Duration::from_millis(2)).await;
    assert!(
        allowed(&a, "alice:old").await,
        "just before created + grace"
    );
    tokio::time::advance(Duration::from_millis(4)).await;
    assert_eq!(
        a.decide(Some(&basic("alice:old"))).await,
        Decision::Deny,
        "just after created + grace"
    );
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(source.fetches(), 1, "no read on the way");
}

#[tokio::test(start_paused = true)]
async fn a_grace_of_zero_never_accepts_the_previous_password() {
    let a = Authorizer::new(rotated("new", "old"), Duration::ZERO);
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(a.decide(Some(&basic("alice:old"))).await, Decision::Deny);
}

#[tokio::test(start_paused = true)]
async fn a_revoked_previous_password_stops_within_the_recheck_interval() {
    let source = ScriptedSource::new(rotated("new", "old"));
    let a = Authorizer::new(source.clone(), HOUR);
    assert!(allowed(&a, "alice:old").await);
    // Revoked: the source has no previous version any more.
    let mut revoked = rotated("new", "old");
    revoked.previous = None;
    source.set(Ok(revoked));
    tokio::time::advance(RECHECK - Duration::from_millis(1)).await;
    assert!(allowed(&a, "alice:old").await, "cached sets still fresh");
    assert_eq!(source.fetches(), 1);
    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(a.decide(Some(&basic("alice:old"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 2);
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failure_to_read_the_previous_version_keeps_the_current_one_working() {
    let mut failed = rotated("new", "old");
    failed.previous = None;
    failed.previous_failed = true;
    let source = ScriptedSource::new(failed);
    let a = Authorizer::new(source.clone(), HOUR);
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(a.decide(Some(&basic("alice:old"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 1);
    // The previous version is read again after NEGATIVE_CACHE (not RECHECK), when a request needs it.
    source.set(Ok(rotated("new", "old")));
    tokio::time::advance(NEGATIVE_CACHE + Duration::from_millis(1)).await;
    assert!(allowed(&a, "alice:new").await);
    assert_eq!(source.fetches(), 1, "the current set needs no read");
    assert!(allowed(&a, "alice:old").await);
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_fetch() {
    let source = ScriptedSource::current("pw");
    let a = Arc::new(Authorizer::new(source.clone(), HOUR));
    let header = basic("alice:pw");
    let decisions = futures_join_all((0..20).map(|_| {
        let a = Arc::clone(&a);
        let header = header.clone();
        tokio::spawn(async move { a.decide(Some(&header)).await })
    }))
    .await;
    assert!(
        decisions
            .iter()
            .all(|d| matches!(d, Decision::Allow { .. }))
    );
    assert_eq!(source.fetches(), 1);
}

async fn futures_join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_fetch_failure_fails_closed_is_remembered_briefly_then_retried() {
    let source = ScriptedSource::current("pw");
    source.set(Err(SourceError("unreachable".into())));
    let a = Authorizer::new(source.clone(), HOUR);

    assert_eq!(a.decide(Some(&basic("alice:pw"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 1);
    let err = a
        .handle(request(
            serde_json::json!({"Authorization": basic("alice:pw")}),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthorizerError::CredentialsUnavailable(_)));
    assert_eq!(err.error_type(), "CredentialsUnavailable");
    assert_eq!(
        source.fetches(),
        1,
        "an outage is not a failing call per request"
    );

    source.set(Ok(only("pw")));
    tokio::time::advance(NEGATIVE_CACHE - Duration::from_millis(1)).await;
    assert_eq!(a.decide(Some(&basic("alice:pw"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 1);
    tokio::time::advance(Duration::from_millis(2)).await;
    assert!(allowed(&a, "alice:pw").await);
    assert_eq!(source.fetches(), 2);
    assert!(allowed(&a, "alice:pw").await);
    assert_eq!(source.fetches(), 2, "success is cached again");
}

#[tokio::test(start_paused = true)]
async fn refresh_failure_after_expiry_does_not_keep_serving_stale_credentials() {
    let source = ScriptedSource::current("pw");
    let a = Authorizer::new(source.clone(), HOUR);
    assert!(allowed(&a, "alice:pw").await);
    source.set(Err(SourceError("down".into())));
    tokio::time::advance(RECHECK + Duration::from_secs(1)).await;
    assert_eq!(a.decide(Some(&basic("alice:pw"))).await, Decision::Deny);
}

#[test]
fn grace_arithmetic() {
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let grace = Duration::from_secs(60);
    assert!(previous_accepted(created, grace, created));
    assert!(previous_accepted(
        created,
        grace,
        created + grace - Duration::from_nanos(1)
    ));
    assert!(!previous_accepted(created, grace, created + grace));
    assert!(!previous_accepted(created, Duration::ZERO, created));
    // A clock behind the creation time (skew) is inside the grace period, not an error.
    assert!(previous_accepted(
        created,
        grace,
        created - Duration::from_secs(5)
    ));
    // A grace that overflows the clock fails closed.
    assert!(!previous_accepted(created, Duration::MAX, created));
}

#[test]
fn grace_setting() {
    assert_eq!(previous_password_grace_from(None).unwrap(), HOUR);
    assert_eq!(
        previous_password_grace_from(Some("0")).unwrap(),
        Duration::ZERO
    );
    assert_eq!(
        previous_password_grace_from(Some(" 90 ")).unwrap(),
        Duration::from_secs(90)
    );
    let err = previous_password_grace_from(Some("-1")).unwrap_err();
    assert!(
        err.to_string().contains("PREVIOUS_PASSWORD_GRACE_SECONDS"),
        "{err}"
    );
}
