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

fn authorizer() -> Authorizer<StaticSource> {
    Authorizer::new(
        StaticSource(vec![StoredCredentials::new("alice", "pw")]),
        DEFAULT_CACHE_TTL,
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
        let diagnostic: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diagnostic.error_message, "Unauthorized");
        assert_eq!(diagnostic.error_type, "Unauthorized");
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
    answer: Arc<std::sync::Mutex<Result<Vec<StoredCredentials>, SourceError>>>,
}

impl ScriptedSource {
    fn new(sets: Vec<StoredCredentials>) -> Self {
        ScriptedSource {
            fetches: Arc::default(),
            answer: Arc::new(std::sync::Mutex::new(Ok(sets))),
        }
    }
    fn set(&self, answer: Result<Vec<StoredCredentials>, SourceError>) {
        *self.answer.lock().unwrap() = answer;
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl CredentialsSource for ScriptedSource {
    async fn fetch(&self) -> Result<Vec<StoredCredentials>, SourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.answer.lock().unwrap().clone()
    }
}

#[tokio::test(start_paused = true)]
async fn fetches_at_most_once_per_ttl_and_refreshes_after_expiry() {
    let source = ScriptedSource::new(vec![StoredCredentials::new("alice", "old")]);
    let a = Authorizer::new(source.clone(), Duration::from_secs(300));

    // Malformed or missing headers never touch the source.
    assert_eq!(a.decide(None).await, Decision::Unauthorized);
    assert_eq!(source.fetches(), 0);

    for _ in 0..10 {
        assert!(matches!(
            a.decide(Some(&basic("alice:old"))).await,
            Decision::Allow { .. }
        ));
    }
    assert_eq!(source.fetches(), 1);

    // The secret changes; the cached value is used until the TTL runs out.
    source.set(Ok(vec![StoredCredentials::new("alice", "new")]));
    tokio::time::advance(Duration::from_secs(299)).await;
    assert!(matches!(
        a.decide(Some(&basic("alice:old"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(source.fetches(), 1);

    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(a.decide(Some(&basic("alice:old"))).await, Decision::Deny);
    assert!(matches!(
        a.decide(Some(&basic("alice:new"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_fetch() {
    let source = ScriptedSource::new(vec![StoredCredentials::new("alice", "pw")]);
    let a = Arc::new(Authorizer::new(source.clone(), Duration::from_secs(60)));
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
async fn fetch_failure_fails_closed_and_is_retried_on_the_next_request() {
    let source = ScriptedSource::new(vec![]);
    source.set(Err(SourceError("unreachable".into())));
    let a = Authorizer::new(source.clone(), Duration::from_secs(300));

    assert_eq!(a.decide(Some(&basic("alice:pw"))).await, Decision::Deny);
    assert_eq!(source.fetches(), 1);
    let err = a
        .handle(request(
            serde_json::json!({"Authorization": basic("alice:pw")}),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthorizerError::CredentialsUnavailable(_)));
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "CredentialsUnavailable"
    );
    assert_eq!(source.fetches(), 2, "a failure is not cached");

    source.set(Ok(vec![StoredCredentials::new("alice", "pw")]));
    assert!(matches!(
        a.decide(Some(&basic("alice:pw"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(source.fetches(), 3);
    assert!(matches!(
        a.decide(Some(&basic("alice:pw"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(source.fetches(), 3, "success is cached again");
}

#[tokio::test(start_paused = true)]
async fn refresh_failure_after_expiry_does_not_keep_serving_stale_credentials() {
    let source = ScriptedSource::new(vec![StoredCredentials::new("alice", "pw")]);
    let a = Authorizer::new(source.clone(), Duration::from_secs(10));
    assert!(matches!(
        a.decide(Some(&basic("alice:pw"))).await,
        Decision::Allow { .. }
    ));
    source.set(Err(SourceError("down".into())));
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(a.decide(Some(&basic("alice:pw"))).await, Decision::Deny);
}

#[tokio::test]
async fn during_rotation_both_current_and_previous_are_accepted() {
    let a = Authorizer::new(
        StaticSource(vec![
            StoredCredentials::new("alice", "new"),
            StoredCredentials::new("alice", "old"),
        ]),
        DEFAULT_CACHE_TTL,
    );
    assert!(matches!(
        a.decide(Some(&basic("alice:new"))).await,
        Decision::Allow { .. }
    ));
    assert!(matches!(
        a.decide(Some(&basic("alice:old"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(a.decide(Some(&basic("alice:older"))).await, Decision::Deny);
}

#[test]
fn cache_ttl_setting() {
    assert_eq!(cache_ttl_from(None).unwrap(), Duration::from_secs(300));
    assert_eq!(cache_ttl_from(Some("")).unwrap(), Duration::from_secs(300));
    assert_eq!(cache_ttl_from(Some("60")).unwrap(), Duration::from_secs(60));
    assert_eq!(cache_ttl_from(Some("0")).unwrap(), Duration::ZERO);
    let err = cache_ttl_from(Some("5m")).unwrap_err();
    assert!(
        err.to_string().contains("CREDENTIALS_CACHE_TTL_SECONDS"),
        "{err}"
    );
}
