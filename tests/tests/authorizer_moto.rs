//! The authorizer library against a real (moto) Secrets Manager: allow, deny, rotation, fail closed.

use std::time::Duration;

use authorizer::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, Authorizer, AuthorizerError, CredentialsSource,
    Decision, SecretsManagerSource,
};
use base64::Engine as _;
use sluice_tests::Moto;

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn secret(user: &str, pass: &str) -> String {
    serde_json::json!({"username": user, "password": pass}).to_string()
}

const METHOD_ARN: &str =
    "arn:aws:execute-api:us-east-1:123456789012:api1/prod/POST/submit/orders/e1";

fn request(header: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(serde_json::json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"authorization": header},
        "requestContext": {"stage": "prod"}
    }))
    .expect("a valid authorizer request")
}

#[tokio::test]
async fn reads_the_secret_allows_denies_and_survives_a_rotation() {
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let created = client
        .create_secret()
        .name("sluice/test/credentials")
        .secret_string(secret("alice", "first-pw"))
        .send()
        .await
        .expect("create the secret");
    let arn = created.arn().expect("an ARN").to_owned();

    // Before any rotation there is no AWSPREVIOUS version; that is not an error.
    let source = SecretsManagerSource::new(client.clone(), &arn);
    let sets = source.fetch().await.expect("fetch the current version");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].username, "alice");

    let authorizer = Authorizer::new(source, Duration::ZERO); // no caching: every decision reads moto
    assert_eq!(
        authorizer.decide(Some(&basic("alice", "first-pw"))).await,
        Decision::Allow {
            principal: "alice".into()
        }
    );
    assert_eq!(
        authorizer.decide(Some(&basic("alice", "wrong"))).await,
        Decision::Deny
    );
    assert_eq!(
        authorizer.decide(Some(&basic("mallory", "first-pw"))).await,
        Decision::Deny
    );
    assert_eq!(
        authorizer.decide(Some("Basic not-base64!")).await,
        Decision::Unauthorized
    );
    assert_eq!(authorizer.decide(None).await, Decision::Unauthorized);

    // The Lambda entry point: a stage-wide Allow for the right credentials, an explicit Deny otherwise.
    let allow = authorizer
        .handle(request(&basic("alice", "first-pw")))
        .await
        .expect("a policy");
    let allow = serde_json::to_value(allow).expect("serialisable");
    assert_eq!(allow["principalId"], "alice");
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        allow["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:api1/prod/*/*"
    );
    let deny = serde_json::to_value(
        authorizer
            .handle(request(&basic("alice", "nope")))
            .await
            .expect("a policy"),
    )
    .expect("serialisable");
    assert_eq!(deny["policyDocument"]["Statement"][0]["Effect"], "Deny");

    // Rotate: the new value becomes AWSCURRENT, the old one AWSPREVIOUS; both are accepted.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret("alice", "second-pw"))
        .send()
        .await
        .expect("rotate the secret");
    assert!(matches!(
        authorizer.decide(Some(&basic("alice", "second-pw"))).await,
        Decision::Allow { .. }
    ));
    assert!(matches!(
        authorizer.decide(Some(&basic("alice", "first-pw"))).await,
        Decision::Allow { .. }
    ));

    // Rotate again: the first password is now neither current nor previous.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret("alice", "third-pw"))
        .send()
        .await
        .expect("rotate the secret again");
    assert!(matches!(
        authorizer.decide(Some(&basic("alice", "third-pw"))).await,
        Decision::Allow { .. }
    ));
    assert!(matches!(
        authorizer.decide(Some(&basic("alice", "second-pw"))).await,
        Decision::Allow { .. }
    ));
    assert_eq!(
        authorizer.decide(Some(&basic("alice", "first-pw"))).await,
        Decision::Deny
    );
}

#[tokio::test]
async fn a_missing_secret_fails_closed() {
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let authorizer = Authorizer::new(
        SecretsManagerSource::new(client, "does-not-exist"),
        Duration::from_secs(300),
    );
    assert_eq!(
        authorizer.decide(Some(&basic("alice", "pw"))).await,
        Decision::Deny
    );
    let err = authorizer
        .handle(request(&basic("alice", "pw")))
        .await
        .expect_err("no policy without credentials");
    assert!(
        matches!(err, AuthorizerError::CredentialsUnavailable(_)),
        "{err}"
    );
    assert!(!err.to_string().contains("pw\""), "{err}");
}

#[tokio::test]
async fn a_malformed_secret_fails_closed_without_quoting_it() {
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    client
        .create_secret()
        .name("bad")
        .secret_string("user:hunter2")
        .send()
        .await
        .expect("create the secret");
    let source = SecretsManagerSource::new(client, "bad");
    let err = source
        .fetch()
        .await
        .expect_err("not a JSON credentials object");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let authorizer = Authorizer::new(source, Duration::from_secs(300));
    assert_eq!(
        authorizer.decide(Some(&basic("user", "hunter2"))).await,
        Decision::Deny
    );
}
