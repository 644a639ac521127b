//! `cargo xtask send ROUTE`: one event on a route, as a client would send it — the route's method, its path
//! (path parameters from `--param`, else a stream of the route that delivers the example body and a fresh
//! event id), its content type,
//! its credentials (none when the route's auth is "none") and a body (`--body FILE|-`, else the route's
//! [`example_body`](sluice_config::Route::example_body)). It prints the status and the answer, and fails
//! unless the answer is a 2xx.
//!
//! Where it goes: the pipeline `cargo xtask dev` runs on `--state-dir` while one runs (its
//! [`running_dev`](sluice_local::running_dev) record gives the port), else the deployed stack (its
//! Terraform outputs and credentials secret, in `deployed`, feature `aws`). `--local` insists on the
//! former, `--outputs FILE` on the latter.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic, miette};

use sluice_config::{KeyType, PartitionKeySource, PathSegment, Pipeline, Route, StreamTarget};

use crate::deployment::OutputsArgs;

#[cfg(feature = "aws")]
mod deployed;

/// `cargo xtask send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// The route, by its name in pipeline.toml (`[routes.<name>]`).
    pub route: String,
    /// The request body: a file, or `-` to read it from stdin (default: the route's `example`, else a body
    /// derived from its schema).
    #[arg(long, value_name = "FILE|-")]
    pub body: Option<PathBuf>,
    /// A path parameter (repeatable); defaults: the first of the route's streams whose consumers' filters
    /// deliver the example body (else its first stream), a fresh event id.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Send to the pipeline `cargo xtask dev` runs (the default while one runs on --state-dir).
    #[arg(long, conflicts_with = "outputs")]
    pub local: bool,
    /// The local pipeline's state dir (where `cargo xtask dev` records its port).
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub outputs: OutputsArgs,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!(
            "`{s}` is not NAME=VALUE (e.g. --param eventId=order-1)"
        )),
    }
}

/// Where a send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The pipeline `cargo xtask dev` runs.
    Local,
    /// The deployed stack.
    Deployed,
    /// Neither runs as far as can be told: no dev on the state dir, and a Terraform root never initialised
    /// (so no AWS build is started only to find nothing deployed).
    Nothing,
}

impl SendArgs {
    /// `--local`, or a dev running on `--state-dir` (without `--outputs`); else `--outputs`, or a Terraform
    /// root that was initialised; else nothing.
    pub fn destination(&self) -> Destination {
        if self.local
            || (self.outputs.outputs.is_none()
                && sluice_local::running_dev(&self.state_dir).is_some())
        {
            Destination::Local
        } else if self.outputs.outputs.is_some()
            || self.outputs.terraform_dir.join(".terraform").is_dir()
        {
            Destination::Deployed
        } else {
            Destination::Nothing
        }
    }

    /// Whether this run would call AWS (it sends to the deployed stack).
    pub fn needs_aws(&self) -> bool {
        self.destination() == Destination::Deployed
    }
}

/// Where the body comes from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    Given,
    Example,
    Derived,
    Default,
}

impl BodySource {
    fn describe(self) -> &'static str {
        match self {
            BodySource::Given => "as given",
            BodySource::Example => "the route's example",
            BodySource::Derived => "derived from the route's schema",
            BodySource::Default => "the default body",
        }
    }
}

/// One request, ready to send but for the base URL and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    /// The path's segments after the stage, unencoded.
    pub segments: Vec<String>,
    pub content_type: String,
    /// Whether the route wants credentials.
    pub auth: bool,
    pub body: Vec<u8>,
    pub body_source: BodySource,
}

impl Request {
    /// The request for `route` with these path parameters and body (`None`: the route's example body).
    pub fn for_route(
        pipeline: &Pipeline,
        route: &Route,
        params: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> miette::Result<Request> {
        let names: Vec<&str> = route
            .segments
            .iter()
            .filter_map(|s| match s {
                PathSegment::Param(p) => Some(p.as_str()),
                PathSegment::Literal(_) => None,
            })
            .collect();
        let mut given: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in params {
            if !names.contains(&name.as_str()) {
                return Err(miette!(
                    help = if names.is_empty() {
                        format!(
                            "route \"{}\" ({}) takes no path parameters",
                            route.name, route.path
                        )
                    } else {
                        format!("its path parameters: {}", names.join(", "))
                    },
                    "--param {name}: route \"{}\" has no path parameter `{name}`",
                    route.name
                ));
            }
            given.insert(name, value);
        }
        // Without --param for the stream: the first of the route's streams whose consumers' filters deliver
        // the example body (else the first), so the event sent by default is one that lands.
        let example = route.example_body();
        let lands = |stream: &String| {
            pipeline
                .consumers
                .values()
                .filter(|c| &c.stream == stream)
                .any(|c| crate::smoke::delivered(c, "send", &example))
        };
        let stream = match &route.stream {
            StreamTarget::Fixed(s) => s.clone(),
            StreamTarget::PathParam { param, allowed } => given
                .get(param.as_str())
                .map(|s| s.to_string())
                .or_else(|| {
                    if body.is_none() {
                        allowed.iter().find(|s| lands(s)).cloned()
                    } else {
                        None
                    }
                })
                .or_else(|| allowed.first().cloned())
                .unwrap_or_default(),
        };
        let mut segments = Vec::new();
        for seg in &route.segments {
            match seg {
                PathSegment::Literal(l) => segments.push(l.clone()),
                PathSegment::Param(p) => {
                    let value = match given.get(p.as_str()) {
                        Some(v) => v.to_string(),
                        None => match (&route.stream, &route.partition_key) {
                            (StreamTarget::PathParam { param, .. }, _) if param == p => {
                                stream.clone()
                            }
                            (_, PartitionKeySource::PathParam(key)) if key == p => {
                                fresh_id(pipeline.key_type_of_stream(&stream))
                            }
                            _ => {
                                return Err(miette!(
                                    help = format!("pass --param {p}=VALUE"),
                                    "route \"{}\"'s path {} has `{{{p}}}`, which is neither its stream nor its partition key",
                                    route.name,
                                    route.path
                                ));
                            }
                        },
                    };
                    segments.push(value);
                }
            }
        }
        let (body, body_source) = match body {
            Some(b) => (b, BodySource::Given),
            None => (
                route.example_body().to_string().into_bytes(),
                match (&route.example, &route.schema) {
                    (Some(_), _) => BodySource::Example,
                    (None, Some(_)) => BodySource::Derived,
                    (None, None) => BodySource::Default,
                },
            ),
        };
        Ok(Request {
            method: route.method.as_str(),
            segments,
            content_type: route.content_type.clone(),
            auth: route.auth,
            body,
            body_source,
        })
    }

    /// The URL under `base` (`http://host/stage`), each segment percent-encoded.
    pub fn url(&self, base: &str) -> miette::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(base.trim_end_matches('/'))
            .map_err(|e| miette!("the pipeline's URL {base} is not a URL: {e}"))?;
        url.path_segments_mut()
            .map_err(|()| miette!("the pipeline's URL {base} cannot take a path"))?
            .pop_if_empty()
            .extend(&self.segments);
        Ok(url)
    }
}

/// A fresh event id of the table key's type.
fn fresh_id(kind: KeyType) -> String {
    match kind {
        KeyType::S => format!("send-{}", uuid::Uuid::new_v4()),
        KeyType::N => rand::random::<u32>().to_string(),
    }
}

/// The route named `name`, or an error listing the routes.
pub fn route<'p>(pipeline: &'p Pipeline, name: &str, config: &Path) -> miette::Result<&'p Route> {
    pipeline.routes.get(name).ok_or_else(|| {
        miette!(
            help = format!(
                "the routes of {}: {}",
                config.display(),
                pipeline
                    .routes
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "there is no route \"{name}\" in {}",
            config.display()
        )
    })
}

/// The answer, as printed.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub body: String,
}

/// Sends the request to `base` (`http://host/stage`) with these credentials.
pub async fn send(
    request: &Request,
    base: &str,
    credentials: Option<&(String, String)>,
) -> miette::Result<Answer> {
    let url = request.url(base)?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).into_diagnostic()?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .into_diagnostic()?;
    let mut builder = client
        .request(method, url.clone())
        .header("content-type", &request.content_type)
        .body(request.body.clone());
    if let Some((user, password)) = credentials {
        builder = builder.basic_auth(user, Some(password));
    }
    let answer = builder.send().await.map_err(|e| {
        miette!(
            help = "is the pipeline running? `cargo xtask dev` locally, or check the deployed stack's `api_url`",
            "{} {url}: cannot reach the pipeline: {e}",
            request.method
        )
    })?;
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    Ok(Answer { status, body })
}

fn read_body(path: &Path) -> miette::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut out = Vec::new();
        std::io::stdin()
            .read_to_end(&mut out)
            .map_err(|e| miette!("cannot read the body from stdin: {e}"))?;
        return Ok(out);
    }
    std::fs::read(path).map_err(|e| {
        miette!(
            help = "--body takes a file (relative to the project root), or - for stdin",
            "cannot read the body file {}: {e}",
            path.display()
        )
    })
}

/// The local target: the base URL from dev's record, and the stored credentials when the route needs them.
fn local_target(
    args: &SendArgs,
    config: &Path,
    auth: bool,
) -> miette::Result<(String, Option<(String, String)>)> {
    let Some(dev) = sluice_local::running_dev(&args.state_dir) else {
        return Err(not_running(&args.state_dir, config));
    };
    let same = |a: &Path, b: &Path| {
        std::fs::canonicalize(a)
            .ok()
            .zip(std::fs::canonicalize(b).ok())
            .is_some_and(|(a, b)| a == b)
    };
    if !same(&dev.config, config) {
        eprintln!(
            "note: `cargo xtask dev` on {} runs {}, not {}",
            args.state_dir.display(),
            dev.config.display(),
            config.display()
        );
    }
    let credentials = if auth {
        Some(crate::smoke::local_credentials(&args.state_dir)?)
    } else {
        None
    };
    Ok((dev.base_url(), credentials))
}

/// Nothing runs on this state dir: what to do.
pub fn not_running(state_dir: &Path, config: &Path) -> miette::Report {
    miette!(
        help = format!(
            "start it first: `cargo xtask dev --config {}{}` (in another terminal)",
            config.display(),
            if state_dir == Path::new(sluice_local::DEFAULT_STATE_DIR) {
                String::new()
            } else {
                format!(" --state-dir {}", state_dir.display())
            }
        ),
        "no `cargo xtask dev` is running on the state dir {} (no live {})",
        state_dir.display(),
        sluice_local::dev_record_path(state_dir).display()
    )
}

pub fn run(config: &sluice_config::PipelineFile, args: SendArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let route = route(&pipeline, &args.route, config)?;
    let body = args.body.as_deref().map(read_body).transpose()?;
    let request = Request::for_route(&pipeline, route, &args.params, body)?;
    let local = match args.destination() {
        Destination::Local => true,
        Destination::Deployed => false,
        Destination::Nothing => {
            return Err(miette!(
                help = format!(
                    "start `cargo xtask dev --config {}` (in another terminal), or, for a deployed stack, pass --terraform-dir or --outputs FILE",
                    config.display()
                ),
                "nowhere to send: no `cargo xtask dev` runs on the state dir {} and {} holds no initialised Terraform root",
                args.state_dir.display(),
                args.outputs.terraform_dir.display()
            ));
        }
    };
    #[cfg(not(feature = "aws"))]
    if !local {
        return Err(crate::no_aws());
    }
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    let answer = rt.block_on(async {
        let (base, credentials) = if local {
            local_target(&args, config, request.auth)?
        } else {
            remote_target(&args, request.auth).await?
        };
        let url = request.url(&base)?;
        eprintln!(
            "{} {url} ({}, body {}):\n{}",
            request.method,
            request.content_type,
            request.body_source.describe(),
            String::from_utf8_lossy(&request.body)
        );
        send(&request, &base, credentials.as_ref()).await
    })?;
    println!("{}", answer.status);
    println!("{}", answer.body);
    if answer.status.is_success() {
        return Ok(());
    }
    let help = match request.body_source {
        BodySource::Derived if answer.status == 400 => format!(
            "the body was derived from the route's schema, which it does not meet: give [routes.{}] an `example`, or pass --body",
            route.name
        ),
        _ => "the answer says why; `cargo xtask send --help` lists what can be set".to_string(),
    };
    Err(miette!(
        help = help,
        "{} {} answered {}",
        request.method,
        route.name,
        answer.status
    ))
}

#[cfg(feature = "aws")]
async fn remote_target(
    args: &SendArgs,
    auth: bool,
) -> miette::Result<(String, Option<(String, String)>)> {
    deployed::target(&args.outputs, auth).await
}

#[cfg(not(feature = "aws"))]
async fn remote_target(
    _: &SendArgs,
    _: bool,
) -> miette::Result<(String, Option<(String, String)>)> {
    Err(crate::no_aws())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str) -> Pipeline {
        sluice_config::load(&sluice_config::project_root().join(file)).unwrap()
    }

    #[test]
    fn a_request_takes_the_route_s_method_path_type_and_example() {
        let p = load("examples/multi/pipeline.toml");
        let audit = Request::for_route(&p, &p.routes["audit"], &[], None).unwrap();
        assert_eq!(audit.method, "PUT");
        assert_eq!(audit.segments, ["audit"]);
        assert_eq!(audit.content_type, "application/vnd.shop.audit+json");
        assert!(audit.auth);
        assert_eq!(audit.body_source, BodySource::Derived);
        assert_eq!(
            audit.url("http://127.0.0.1:1/v1").unwrap().as_str(),
            "http://127.0.0.1:1/v1/audit"
        );

        let beacon = Request::for_route(
            &p,
            &p.routes["beacon"],
            &[("clickId".into(), "a b/c".into())],
            Some(b"{}".to_vec()),
        )
        .unwrap();
        assert!(!beacon.auth);
        assert_eq!(beacon.body_source, BodySource::Given);
        assert_eq!(
            beacon.url("https://x.example/v1/").unwrap().as_str(),
            "https://x.example/v1/beacon/a%20b%2Fc"
        );

        // The example body is an order: Clicks' consumer would skip it, Orders' stores it.
        let events = Request::for_route(&p, &p.routes["events"], &[], None).unwrap();
        assert_eq!(
            events.segments[..2],
            ["events".to_string(), "Orders".to_string()]
        );
        assert!(events.segments[2].starts_with("send-"));
        let clicks = Request::for_route(
            &p,
            &p.routes["events"],
            &[("streamName".into(), "Clicks".into())],
            None,
        )
        .unwrap();
        assert_eq!(clicks.segments[1], "Clicks");
        // A body of one's own: the route's first stream, as documented.
        let given = Request::for_route(&p, &p.routes["events"], &[], Some(b"{}".to_vec())).unwrap();
        assert_eq!(given.segments[1], "Clicks");
    }

    #[test]
    fn unknown_routes_and_parameters_are_named() {
        let p = load("pipeline.toml");
        let err = route(&p, "sumbit", Path::new("pipeline.toml")).unwrap_err();
        assert!(format!("{err:?}").contains("submit"), "{err:?}");
        let err = Request::for_route(&p, &p.routes["submit"], &[("id".into(), "x".into())], None)
            .unwrap_err();
        assert!(err.to_string().contains("no path parameter `id`"), "{err}");
        assert!(
            format!("{err:?}").contains("streamName, eventId"),
            "{err:?}"
        );
        assert_eq!(parse_param("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_param("nope").is_err());
    }
}
