//! `cargo xtask test-pipeline`: declarative pipeline tests (`docs/PIPELINE_TESTS.md`). A test file states
//! inputs (requests on routes, records put straight on a stream) and expectations (a request's status and
//! error code; a record filtered out or dead-lettered with its reason; an item in a table with given
//! members). Each test runs on a fresh local pipeline in this process (`sluice_local::start`, a temporary
//! state dir, port 0), with AWS's batching windows, filters and limits as `cargo xtask dev` has them; tests
//! run concurrently, so a suite takes about as long as its slowest test (a consumer's batching window).
//!
//! `suite` reads and checks the files (every problem located at file:line:column), `run` runs one test,
//! `compare` matches expected members against a stored item.

pub mod compare;
pub mod run;
pub mod suite;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use miette::miette;

use sluice_config::Pipeline;

pub use run::Outcome;
pub use suite::TestCase;

/// The folder, next to a pipeline file, whose `*.toml` files are its tests.
pub const SUITE_DIR: &str = "tests/pipeline";

/// How many tests run at once by default.
pub const DEFAULT_JOBS: usize = 16;

/// `cargo xtask test-pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestPipelineArgs {
    /// Test files to run against the --config pipeline (default: every `tests/pipeline/*.toml` beside it).
    pub files: Vec<PathBuf>,
    /// How many tests run at once, each on its own local pipeline.
    #[arg(long, default_value_t = DEFAULT_JOBS, value_parser = jobs)]
    pub jobs: usize,
}

/// `--jobs`: at least one.
fn jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a number of tests at once (1 or more)"
        )),
    }
}

/// The test files of a pipeline: `<its folder>/tests/pipeline/*.toml`, sorted.
pub fn suite_files(config: &Path) -> miette::Result<Vec<PathBuf>> {
    let dir = config.parent().unwrap_or(Path::new("")).join(SUITE_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        miette!(
            help = "write one (docs/PIPELINE_TESTS.md), or name the test files to run",
            "{} has no pipeline tests: cannot read {}: {e}",
            config.display(),
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .map(shown)
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(miette!(
            help = "write one (docs/PIPELINE_TESTS.md), or name the test files to run",
            "{} has no pipeline tests: {} holds no .toml file",
            config.display(),
            dir.display()
        ));
    }
    Ok(files)
}

/// `path` as the report names it: relative to the current directory (the project root) when inside it.
fn shown(path: PathBuf) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or(path)
}

/// The tests of some files, checked against one pipeline.
pub struct Suites {
    pub config: PathBuf,
    pub pipeline: Arc<Pipeline>,
    pub files: usize,
    pub tests: Vec<TestCase>,
}

/// Loads a pipeline and its test files (the given ones, or its suite folder's): every invalid file is
/// reported, located.
pub fn load(config: &Path, files: &[PathBuf]) -> miette::Result<Suites> {
    let pipeline = sluice_config::load(config)?;
    let files = if files.is_empty() {
        suite_files(config)?
    } else {
        files.to_vec()
    };
    let mut tests = Vec::new();
    let mut invalid = Vec::new();
    for file in &files {
        match suite::load(file, &pipeline) {
            Ok(cases) => tests.extend(cases),
            Err(errors) => invalid.push(errors),
        }
    }
    if let Some(last) = invalid.pop() {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        for errors in invalid {
            let mut out = String::new();
            let _ = handler.render_report(&mut out, &InvalidTests(errors));
            eprintln!("Error: {out}");
        }
        return Err(miette::Report::new(InvalidTests(last)));
    }
    Ok(Suites {
        config: config.to_path_buf(),
        pipeline: Arc::new(pipeline),
        files: files.len(),
        tests,
    })
}

/// A test file's problems, each located (nothing ran).
#[derive(Debug)]
pub struct InvalidTests(pub sluice_config::ConfigErrors);

impl std::fmt::Display for InvalidTests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InvalidTests {}

impl miette::Diagnostic for InvalidTests {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("sluice::pipeline_test"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(
            "no test ran; fix the errors listed below (the format is in docs/PIPELINE_TESTS.md)",
        ))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }
}

/// `cargo xtask test-pipeline [FILE …]`.
pub fn run(config: &sluice_config::PipelineFile, args: TestPipelineArgs) -> miette::Result<()> {
    let suites = load(config, &args.files)?;
    run_suites(vec![suites], args.jobs)
}

/// Runs the tests of several pipelines together (`cargo xtask test` runs those of every shipped pipeline),
/// printing one line per test as it ends, the differences of those that fail, and a summary; fails when a
/// test does.
pub fn run_suites(suites: Vec<Suites>, jobs: usize) -> miette::Result<()> {
    let started = Instant::now();
    let total: usize = suites.iter().map(|s| s.tests.len()).sum();
    let files: usize = suites.iter().map(|s| s.files).sum();
    let configs = suites
        .iter()
        .map(|s| s.config.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "test-pipeline: {total} test{} in {files} file{} against {configs}, each on a fresh local pipeline ({} at a time)",
        plural(total),
        plural(files),
        jobs.min(total).max(1)
    );
    let _ = std::io::stdout().flush();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette!("cannot start the runtime: {e}"))?;
    let failed: Vec<String> = runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| miette!("cannot make an HTTP client: {e}"))?;
        let work: Vec<(Arc<Pipeline>, TestCase)> = suites
            .into_iter()
            .flat_map(|s| {
                let pipeline = s.pipeline.clone();
                s.tests.into_iter().map(move |t| (pipeline.clone(), t))
            })
            .collect();
        let mut results = futures::stream::iter(work)
            .map(|(pipeline, case)| {
                let http = http.clone();
                async move {
                    let outcome = run::run_test(pipeline, &case, &http).await;
                    (case, outcome)
                }
            })
            .buffer_unordered(jobs.max(1));
        let mut failed = Vec::new();
        while let Some((case, outcome)) = results.next().await {
            print!("{}", report_line(&case, &outcome));
            let _ = std::io::stdout().flush();
            if !outcome.passed() {
                failed.push(format!("{}:{}: {}", case.file, case.line, case.name));
            }
        }
        Ok::<_, miette::Report>(failed)
    })?;
    let passed = total - failed.len();
    println!(
        "test-pipeline: {passed} passed, {} failed ({:.1} s)",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        for name in &failed {
            println!("  failed: {name}");
        }
        Err(miette!(
            "{} of {total} pipeline test{} failed",
            failed.len(),
            plural(total)
        ))
    }
}

/// `PASS file: name (1.2 s)`, or `FAIL …` and one indented line per difference.
pub fn report_line(case: &TestCase, outcome: &Outcome) -> String {
    let mut out = format!(
        "{} {}: {} ({:.1} s)\n",
        if outcome.passed() { "PASS" } else { "FAIL" },
        case.file,
        case.name,
        outcome.elapsed.as_secs_f64()
    );
    for problem in &outcome.problems {
        out.push_str(&format!("     {problem}\n"));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
