//! The names the generated stack gives AWS resources, by the namespace each lives in. Two parts of a
//! pipeline.toml that would get one name in one namespace validate on their own but fail at apply (a
//! function or role that already exists) or, worse, apply with one silently replacing the other (a
//! CloudWatch alarm, an entry of the root's alarm map). `compile` refuses such a pipeline with both
//! places located; `sluice-gen`'s tests check that the names it renders are the ones listed here.

use crate::Pipeline;

/// Who in pipeline.toml a name belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// Something every stack has (the authorizer, the API's roles, the API's alarms).
    Fixed(&'static str),
    Stream(String),
    Table(String),
    Queue(String),
    Consumer(String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Fixed(what) => write!(f, "{what}"),
            Owner::Stream(n) => write!(f, "[streams.{n}]"),
            Owner::Table(n) => write!(f, "[tables.{n}]"),
            Owner::Queue(n) => write!(f, "[queues.{n}]"),
            Owner::Consumer(n) => write!(f, "[consumers.{n}]"),
        }
    }
}

/// The suffix of a fixed name after `{pipeline.name}-`: the authorizer's function, role and log group,
/// and the roles of the API's integration and of its account settings. A consumer may not take one.
pub const RESERVED_FUNCTION_NAMES: [&str; 3] =
    ["authorizer", "api-kinesis", "apigateway-cloudwatch"];

/// Lambda functions, and with each its IAM role (`/aws/lambda/…` log group likewise): IAM compares role
/// names without regard to case, so these are compared lowercased.
pub fn function_and_role_names(p: &Pipeline) -> Vec<(String, Owner)> {
    let mut out: Vec<(String, Owner)> = RESERVED_FUNCTION_NAMES
        .iter()
        .map(|n| (format!("{}-{n}", p.name), Owner::Fixed(fixed_owner(n))))
        .collect();
    for c in p.consumers.values() {
        out.push((c.function_name.clone(), Owner::Consumer(c.name.clone())));
    }
    out
}

fn fixed_owner(suffix: &str) -> &'static str {
    match suffix {
        "authorizer" => "the authorizer function",
        "api-kinesis" => "the API's role for Kinesis",
        _ => "the API Gateway account role",
    }
}

/// Every CloudWatch alarm name `sluice-gen` renders (some only in some pipelines: the authorizer's with
/// `[auth]`, a stream's iterator age when something reads it). Alarm names are unique per account and
/// region, and the root keys its alarm map by them.
pub fn alarm_names(p: &Pipeline) -> Vec<(String, Owner)> {
    let mut out = Vec::new();
    let mut push = |name: String, suffixes: &[&str], owner: Owner| {
        for s in suffixes {
            out.push((format!("{name}-{s}"), owner.clone()));
        }
    };
    for s in p.streams.values() {
        push(
            s.physical_name.clone(),
            &["iterator-age", "write-throttled", "read-throttled"],
            Owner::Stream(s.name.clone()),
        );
    }
    for c in p.consumers.values() {
        push(
            c.function_name.clone(),
            &[
                "iterator-age",
                "errors",
                "throttles",
                "dead-lettered",
                "retried",
            ],
            Owner::Consumer(c.name.clone()),
        );
    }
    if p.auth.is_some() {
        push(
            format!("{}-authorizer", p.name),
            &["errors", "throttles"],
            Owner::Fixed("the authorizer's alarms"),
        );
    }
    push(
        format!("{}-api", p.name),
        &["5xx", "4xx-rate", "latency-p99"],
        Owner::Fixed("the API's alarms"),
    );
    for t in p.tables.values() {
        push(
            t.physical_name.clone(),
            &["write-throttled", "system-errors"],
            Owner::Table(t.name.clone()),
        );
    }
    for q in p.queues.values() {
        push(
            q.physical_name.clone(),
            &["messages-visible", "oldest-message-age"],
            Owner::Queue(q.name.clone()),
        );
    }
    out
}

/// Two owners that would get one name in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub name: String,
    /// The namespace, as a person names it ("CloudWatch alarm name").
    pub namespace: &'static str,
    pub first: Owner,
    pub second: Owner,
}

/// The owners that would share a name, each pair once.
pub fn collisions(p: &Pipeline) -> Vec<Collision> {
    let mut out: Vec<Collision> = Vec::new();
    for (namespace, names, fold_case) in [
        (
            "function and IAM role name (IAM ignores case)",
            function_and_role_names(p),
            true,
        ),
        ("CloudWatch alarm name", alarm_names(p), false),
    ] {
        let mut seen: std::collections::BTreeMap<String, Owner> = Default::default();
        for (name, owner) in names {
            let key = if fold_case {
                name.to_lowercase()
            } else {
                name.clone()
            };
            match seen.get(&key) {
                Some(first) if *first != owner => {
                    if !out.iter().any(|c| (&c.first, &c.second) == (first, &owner)) {
                        out.push(Collision {
                            name,
                            namespace,
                            first: first.clone(),
                            second: owner,
                        });
                    }
                }
                Some(_) => {}
                None => {
                    seen.insert(key, owner);
                }
            }
        }
    }
    out
}
