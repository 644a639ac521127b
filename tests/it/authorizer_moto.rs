//! The authorizer library against a real (moto) Secrets Manager: allow, deny, rotation with the previous
//! password's grace period, revocation (`cargo xtask rotate --revoke-previous`), fail closed.

use std::time::Duration;

use base64::Engine as _;
use sluice_authorizer::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, Authorizer, AuthorizerError, CredentialsSource,
    Decision, SecretsManagerSource,
};
use sluice_ops::rotate::{DeployedAuth, revoke_deployed};
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

const HOUR: Duration = Duration::from_secs(3600);

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
    let sets = source.fetch(HOUR).await.expect("fetch the current version");
    assert_eq!(sets.current.username, "alice");
    assert!(sets.previous.is_none());
    assert!(!sets.previous_failed);
    let age = std::time::SystemTime::now()
        .duration_since(sets.current_created)
        .expect("created in the past");
    assert!(
        age < Duration::from_secs(60),
        "CreatedDate is read: {age:?}"
    );

    // No caching: every decision reads moto.
    let authorizer = Authorizer::new(source, HOUR).with_recheck(Duration::ZERO);
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
    let authorizer = Authorizer::new(SecretsManagerSource::new(client, "does-not-exist"), HOUR);
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
        .fetch(HOUR)
        .await
        .expect_err("not a JSON credentials object");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let authorizer = Authorizer::new(source, HOUR);
    assert_eq!(
        authorizer.decide(Some(&basic("user", "hunter2"))).await,
        Decision::Deny
    );
}

async fn allowed<S: CredentialsSource>(authorizer: &Authorizer<S>, user: &str, pass: &str) -> bool {
    matches!(
        authorizer.decide(Some(&basic(user, pass))).await,
        Decision::Allow { .. }
    )
}

/// A secret rotated once on moto, as `terraform apply` with a bumped `password_version` leaves it: the new
/// value `AWSCURRENT` (created now), the old one `AWSPREVIOUS`.
async fn rotated_secret(client: &aws_sdk_secretsmanager::Client, name: &str) -> String {
    let arn = client
        .create_secret()
        .name(name)
        .secret_string(secret("alice", "old-pw"))
        .send()
        .await
        .expect("create the secret")
        .arn()
        .expect("an ARN")
        .to_owned();
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret("alice", "new-pw"))
        .send()
        .await
        .expect("rotate the secret");
    arn
}

#[tokio::test]
async fn the_previous_password_works_for_its_grace_period_only() {
    let moto = Moto::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let arn = rotated_secret(&client, "sluice/grace/credentials").await;

    // The default grace (an hour): both passwords work, the one before the previous does not.
    let hour = Authorizer::new(SecretsManagerSource::new(client.clone(), &arn), HOUR);
    assert!(allowed(&hour, "alice", "new-pw").await);
    assert!(allowed(&hour, "alice", "old-pw").await);
    assert!(!allowed(&hour, "alice", "older-pw").await);

    // Grace 0: the previous password is never accepted, and not even read.
    let never = Authorizer::new(
        SecretsManagerSource::new(client.clone(), &arn),
        Duration::ZERO,
    );
    assert!(allowed(&never, "alice", "new-pw").await);
    assert!(!allowed(&never, "alice", "old-pw").await);
    let sets = never.source().fetch(Duration::ZERO).await.expect("fetch");
    assert!(sets.previous.is_none(), "not read outside the grace period");

    // A 3 s grace, counted from the new version's CreatedDate (moto keeps whole seconds): accepted now,
    // refused once it has run out, though the authorizer read the sets less than 10 s ago and keeps them.
    let grace = Duration::from_secs(3);
    let short = Authorizer::new(SecretsManagerSource::new(client.clone(), &arn), grace);
    let created = short
        .source()
        .fetch(grace)
        .await
        .expect("fetch")
        .current_created;
    assert!(allowed(&short, "alice", "old-pw").await);
    let until = created + grace;
    let wait = until
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    assert!(
        !allowed(&short, "alice", "old-pw").await,
        "refused after created + grace"
    );
    assert!(allowed(&short, "alice", "new-pw").await);
}

#[tokio::test]
async fn revoking_ends_the_previous_password_at_once() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = rotated_secret(&client, "sluice/revoke/credentials").await;
    // A warm authorizer that re-checks without delay (the deployed one re-checks within 10 s).
    let authorizer = Authorizer::new(SecretsManagerSource::new(client.clone(), &arn), HOUR)
        .with_recheck(Duration::ZERO);
    assert!(allowed(&authorizer, "alice", "old-pw").await);

    let auth = DeployedAuth {
        secret_arn: arn.clone(),
        api_id: "no-such-api".into(),
        stage: "prod".into(),
        region: None,
    };
    let revocation = revoke_deployed(&sdk, &auth).await.expect("revoke");
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("describe");
    let stages = described.version_ids_to_stages().expect("versions");
    let revoked = revocation
        .revoked_version
        .expect("a previous version was revoked");
    // A version without labels is deprecated: DescribeSecret lists it without stages, or not at all.
    assert!(
        stages.get(&revoked).is_none_or(Vec::is_empty),
        "AWSPREVIOUS removed from the old version: {stages:?}"
    );
    assert!(
        stages
            .values()
            .all(|s| !s.iter().any(|s| s == "AWSPREVIOUS")),
        "{stages:?}"
    );
    assert_eq!(
        stages
            .values()
            .filter(|s| s.iter().any(|s| s == "AWSCURRENT"))
            .count(),
        1
    );
    // moto does not implement FlushStageAuthorizersCache (and there is no such API here): reported, not fatal.
    assert!(revocation.flushed.is_err(), "{:?}", revocation.flushed);

    assert!(!allowed(&authorizer, "alice", "old-pw").await);
    assert!(allowed(&authorizer, "alice", "new-pw").await);

    // Revoking again finds nothing to revoke.
    let again = revoke_deployed(&sdk, &auth).await.expect("revoke again");
    assert!(again.revoked_version.is_none());
}
