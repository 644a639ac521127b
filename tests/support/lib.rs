//! Shared helpers for the end-to-end tests: a real moto server on a free loopback port, free ports,
//! workspace paths and AWS SDK configs pointed at moto.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the folder holding `pipeline.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// Which `moto_server` to run: `$SLUICE_MOTO_SERVER`, else the project venv's, else the one on `PATH`.
fn moto_command() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/sluice-venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

/// A moto server (real HTTP, real AWS wire protocols) on a free loopback port; stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` on 127.0.0.1 and waits (at most 60 s) until it accepts connections.
    pub fn start() -> Moto {
        let port = free_port();
        let cmd = moto_command();
        let child = Command::new(&cmd)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start {} ({e}); install it with `pip install 'moto[server]'` or run the tests with `cargo xtask test`, which does",
                    cmd.display()
                )
            });
        let mut moto = Moto {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An AWS SDK config for this server: region us-east-1, dummy static credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "sluice-tests",
            ))
            .load()
            .await
    }

    /// Environment variables that point an AWS client (Terraform, the SDK) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$SLUICE_XTASK_BIN`, else `target/debug/xtask`, built first (`cargo build -p xtask`, a no-op when
/// fresh) so tests run the current code. Its AWS build `xtask-aws`, to which `xtask` hands the commands
/// that talk to AWS, is built first too, so that no test's output holds cargo's progress.
pub fn xtask_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(binary) = std::env::var_os("SLUICE_XTASK_BIN") {
                return PathBuf::from(binary);
            }
            let root = workspace_root();
            for args in [
                &["build", "--quiet", "-p", "xtask", "--bin", "xtask"][..],
                &[
                    "build",
                    "--quiet",
                    "-p",
                    "xtask",
                    "--features",
                    "aws",
                    "--bin",
                    "xtask-aws",
                ],
            ] {
                let status =
                    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                        .args(args)
                        .current_dir(&root)
                        .status()
                        .expect("run cargo build -p xtask");
                assert!(status.success(), "cargo {args:?} failed");
            }
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            let binary = target.join("debug/xtask");
            assert!(binary.exists(), "{} is missing", binary.display());
            binary
        })
        .clone()
}

/// Starts `xtask dev` on `port` and waits (at most 60 s) for its `ready` line; the caller owns the
/// process (to `kill -9` it, signal it, or start it again on the same port).
pub fn spawn_dev(config: &Path, state_dir: &Path, port: u16, credentials: Option<&str>) -> Child {
    spawn_dev_with(config, state_dir, port, credentials, &[])
}

/// [`spawn_dev`] with more arguments for `xtask dev` (e.g. `--unlimited`).
pub fn spawn_dev_with(
    config: &Path,
    state_dir: &Path,
    port: u16,
    credentials: Option<&str>,
    extra: &[&str],
) -> Child {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(xtask_bin());
    cmd.arg("dev")
        .args(extra)
        .arg("--config")
        .arg(config)
        .args(["--port", &port.to_string()])
        .arg("--state-dir")
        .arg(state_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(c) = credentials {
        cmd.args(["--credentials", c]);
    }
    let mut child = cmd.spawn().expect("spawn xtask dev");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "ready" {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("xtask dev did not print `ready` within 60 s");
    }
    child
}

/// A `cargo xtask dev` process on a free port, killed on drop.
pub struct DevProcess {
    pub child: Child,
    pub port: u16,
}

impl DevProcess {
    /// Starts `xtask dev` on a free port (see [`spawn_dev`]).
    pub fn start(config: &Path, state_dir: &Path, credentials: Option<&str>) -> DevProcess {
        let port = free_port();
        DevProcess {
            child: spawn_dev(config, state_dir, port, credentials),
            port,
        }
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `cargo xtask dev` process on a free port whose stdout and stderr are collected line by line (to wait
/// for a line it prints, e.g. `--watch`'s reload lines), killed on drop.
pub struct DevWithOutput {
    pub child: Child,
    pub port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl DevWithOutput {
    /// Starts `xtask dev` with `extra` arguments and waits (at most 60 s) for its `ready` line.
    pub fn start(
        config: &Path,
        state_dir: &Path,
        credentials: &str,
        extra: &[&str],
    ) -> DevWithOutput {
        use std::io::{BufRead, BufReader, Read};
        let port = free_port();
        let mut child = Command::new(xtask_bin())
            .arg("dev")
            .args(extra)
            .arg("--config")
            .arg(config)
            .args(["--port", &port.to_string(), "--credentials", credentials])
            .arg("--state-dir")
            .arg(state_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn xtask dev");
        let lines: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        fn collect(
            pipe: impl Read + Send + 'static,
            lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        ) {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        collect(child.stdout.take().expect("piped stdout"), lines.clone());
        collect(child.stderr.take().expect("piped stderr"), lines.clone());
        let dev = DevWithOutput { child, port, lines };
        if dev.wait_for(0, "ready", Duration::from_secs(60)).is_none() {
            panic!(
                "xtask dev did not print `ready` within 60 s:\n{}",
                dev.output()
            );
        }
        dev
    }

    /// How many lines it has printed so far.
    pub fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The first line from line `from` on that contains `needle`, waiting for it at most `within`.
    pub fn wait_for(&self, from: usize, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|l| l.contains(needle))
            {
                return Some(line.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything it printed so far, from line `from` on.
    pub fn output_from(&self, from: usize) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .skip(from)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.output_from(0)
    }
}

impl Drop for DevWithOutput {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a generated Terraform root (or any tree) into `to`, leaving out `.terraform/` folders.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".terraform" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A finished `cargo xtask` run: its status and its stdout and stderr together.
pub struct XtaskRun {
    pub status: ExitStatus,
    pub output: String,
}

/// `cargo xtask <args>` from the project root, bounded by `timeout` (killed and reported past it).
pub fn cargo_xtask(args: &[&str], timeout: Duration) -> XtaskRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("output.log");
    let out = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("xtask")
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("run cargo xtask");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo xtask") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cargo xtask {args:?} took over {timeout:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    XtaskRun {
        status,
        output: std::fs::read_to_string(&log).unwrap_or_default(),
    }
}

/// A moto DynamoDB table keyed by the string hash key `eventId` (the shipped pipeline's key), on demand.
pub async fn create_event_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    create_table(
        client,
        name,
        aws_sdk_dynamodb::types::ScalarAttributeType::S,
    )
    .await;
}

/// A moto DynamoDB table keyed by the hash key `eventId` of the given type, on demand.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    key_type: aws_sdk_dynamodb::types::ScalarAttributeType,
) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType};
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("eventId")
                .attribute_type(key_type)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("eventId")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the moto table {name}: {e:?}"));
}

/// A record's data as the gateway writes it: the envelope around `body`, with fixed metadata.
pub fn envelope(body: &str) -> Vec<u8> {
    envelope_of(1_732_752_000_123, "req", "203.0.113.9", body)
}

/// The record contract's envelope for a request, as the gateway writes it.
pub fn envelope_of(received_at_ms: i64, request_id: &str, source_ip: &str, body: &str) -> Vec<u8> {
    sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
        received_at_ms,
        request_id,
        source_ip,
        body,
    })
}
