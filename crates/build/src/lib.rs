//! `cargo xtask build`: the Lambda functions, with cargo-lambda, into the zips terraform/ references.
//!
//! 1. Load pipeline.toml and group the functions by architecture (one cargo-lambda run per target).
//! 2. Check that every target's standard library is installed — before anything is built or written —
//!    and name the fix (`rustup target add …`) when one is not.
//! 3. Ensure cargo-lambda and zig in the project venv ([`crate::tools::venv`]).
//! 4. `cargo lambda build --profile lambda --target <triple> --package … --bin … --output-format binary`: the
//!    workspace's `[profile.lambda]` (release, optimised for size, fat LTO) keeps every zip under
//!    [`MAX_ZIP_BYTES`] without touching the workspace's other release builds. zig links for every
//!    target, the host's too: it links against glibc stubs of a fixed old version, so the binaries run on
//!    Lambda's `provided.al2023` (glibc 2.34) whatever glibc the build machine has — a host `cc` on a newer
//!    distribution would let symbols like `__isoc23_strtol@GLIBC_2.38` into aws-lc's C code. `RUSTFLAGS`
//!    remaps the cargo home and the project root, so no build path of this machine ends up in a binary.
//! 5. Write `<lambda dir>/<function>/bootstrap.zip` ourselves, byte-stable: one entry `bootstrap`, deflated,
//!    mode 0755, mtime 1980-01-01 00:00:00, no extra fields; and only when the bytes differ, so rebuilding
//!    unchanged code leaves the file, its mtime and its hash (`source_code_hash`) untouched.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use miette::{IntoDiagnostic, WrapErr};
use sha2::{Digest, Sha256};

use sluice_config::{Architecture, Pipeline};

pub mod scaffold;
pub mod tools;

/// The stock Lambda functions, in build order: each is a bin of the same name in the workspace, and its
/// zip is `<lambda dir>/<name>/bootstrap.zip`. The user's functions (`[functions.<name>]` with a `crate`)
/// follow, by name, the same way.
pub const FUNCTIONS: [&str; 2] = ["authorizer", "writer"];

pub use sluice_config::LAMBDA_DIR;

/// The workspace package that holds a function's bin (`lambdas/<name>/Cargo.toml`). cargo-lambda builds
/// with `--package` of each, so cargo resolves the features of the functions alone; with `--bin` only, it
/// would unify every workspace member's features into them (sluice-ops' SSO credential source, …).
pub fn package_of(function: &str) -> String {
    format!("sluice-{function}-lambda")
}

/// The package of each function of `pipeline`, by function name: the stock two's ([`package_of`]), and for
/// each `[functions.NAME]` with a crate, that crate's package.
pub fn packages(pipeline: &Pipeline) -> std::collections::BTreeMap<String, String> {
    let mut out: std::collections::BTreeMap<String, String> = ["authorizer", "writer"]
        .into_iter()
        .map(|f| (f.to_owned(), package_of(f)))
        .collect();
    for f in pipeline.functions.custom.values() {
        out.insert(f.name.clone(), f.package.clone());
    }
    out
}

/// The cargo profile the functions are built with (`[profile.lambda]` in the workspace's Cargo.toml).
pub const PROFILE: &str = "lambda";

/// The most a function's zip may weigh (4 MiB): a smaller package is less for Lambda to fetch and unpack
/// on a cold start. `cargo xtask test` fails past it ([`check_zip_sizes`]).
pub const MAX_ZIP_BYTES: u64 = 4 << 20;

/// `cargo xtask build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Where `<function>/bootstrap.zip` go (the generated Terraform expects the default).
    #[arg(long, default_value = LAMBDA_DIR)]
    pub lambda_dir: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    #[error("the Rust standard library for {} is not installed (needed for {})", .targets.join(", "), .needed_by.join("; "))]
    #[diagnostic(
        code(sluice::build::target_missing),
        help("run `rustup target add {}`, then build again (or set architecture = \"x86_64\" under [functions.<name>] in pipeline.toml)", .targets.join(" "))
    )]
    TargetMissing {
        targets: Vec<String>,
        needed_by: Vec<String>,
    },
    #[error("cannot run `{rustc} --print sysroot` to see which targets are installed: {detail}")]
    #[diagnostic(
        code(sluice::build::rustc),
        help("install Rust with rustup (https://rustup.rs), or set RUSTC to a working rustc")
    )]
    Rustc { rustc: String, detail: String },
    #[error("cannot run {program}: {source}")]
    #[diagnostic(
        code(sluice::build::spawn),
        help("delete target/sluice-venv and run the command again to reinstall the tools")
    )]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`cargo lambda build` for {target} ({functions}) failed ({status})")]
    #[diagnostic(
        code(sluice::build::cargo_lambda),
        help("the compiler's messages are above")
    )]
    CargoLambda {
        target: String,
        functions: String,
        status: String,
    },
    #[error("cargo-lambda reported success but {path} is missing")]
    #[diagnostic(
        code(sluice::build::missing_binary),
        help(
            "is `{function}` a bin target of the workspace (lambdas/{function}/Cargo.toml; for your function, the `crate` of [functions.{function}], listed in the workspace's `members`)?"
        )
    )]
    BinaryMissing { function: String, path: String },
    #[error("{path} is not a Linux {expected} executable ({found}); refusing to package it")]
    #[diagnostic(code(sluice::build::wrong_binary))]
    WrongBinary {
        path: String,
        expected: String,
        found: String,
    },
    #[error("a function zip is over {limit}: {zips}")]
    #[diagnostic(
        code(sluice::build::zip_too_large),
        help(
            "a new dependency or feature grew the binary: compare `cargo tree -e features -p <the function's lambdas/ package>` with main's, and see docs/PERFORMANCE.md (Lambda package size)"
        )
    )]
    ZipTooLarge { zips: String, limit: String },
    #[error("{what}: {source}")]
    #[diagnostic(code(sluice::build::io))]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    #[diagnostic(code(sluice::build::zip))]
    Zip {
        what: String,
        source: zip::result::ZipError,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// One function to build: its name (its bin's) and the architecture pipeline.toml gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBuild {
    pub name: String,
    pub architecture: Architecture,
}

/// Every function of `pipeline`: the stock two, then the user's by name.
pub fn functions(pipeline: &Pipeline) -> Vec<FunctionBuild> {
    let stock = [
        ("authorizer", pipeline.functions.authorizer.architecture),
        ("writer", pipeline.functions.writer.architecture),
    ];
    stock
        .into_iter()
        .map(|(name, architecture)| FunctionBuild {
            name: name.to_owned(),
            architecture,
        })
        .chain(pipeline.functions.custom.values().map(|f| FunctionBuild {
            name: f.name.clone(),
            architecture: f.settings.architecture,
        }))
        .collect()
}

/// The functions of `pipeline`, grouped by architecture in first-seen order: one cargo-lambda run each.
pub fn plan(pipeline: &Pipeline) -> Vec<(Architecture, Vec<String>)> {
    let mut groups: Vec<(Architecture, Vec<String>)> = Vec::new();
    for f in functions(pipeline) {
        match groups.iter_mut().find(|(a, _)| *a == f.architecture) {
            Some((_, names)) => names.push(f.name),
            None => groups.push((f.architecture, vec![f.name])),
        }
    }
    groups
}

/// What a zip write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipOutcome {
    Written,
    Unchanged,
}

/// A built function's package.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub function: String,
    pub zip: PathBuf,
    pub zip_bytes: u64,
    pub binary_bytes: u64,
    pub sha256: String,
    pub outcome: ZipOutcome,
}

/// Builds every function into `<lambda dir>/<function>/bootstrap.zip`.
pub fn run(config: &Path, args: BuildArgs) -> miette::Result<()> {
    build_into(config, &args.lambda_dir)?;
    Ok(())
}

/// An exclusive lock on `target/.sluice-build.lock`, held for the whole build; released on drop.
fn build_lock(target_dir: &Path) -> miette::Result<std::fs::File> {
    std::fs::create_dir_all(target_dir).into_diagnostic()?;
    let path = target_dir.join(".sluice-build.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot open the build lock {}", path.display()))?;
    if file.try_lock().is_err() {
        println!("waiting for another `cargo xtask build` to finish…");
        file.lock()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot take the build lock {}", path.display()))?;
    }
    Ok(file)
}

/// [`run`], returning what it packaged (relative paths are taken from the project root).
pub fn build_into(config: &Path, lambda_dir: &Path) -> miette::Result<Vec<Artifact>> {
    let root = sluice_config::project_root();
    let config = root.join(config);
    let lambda_dir = root.join(lambda_dir);
    let pipeline = sluice_config::load(&config)?;
    let groups = plan(&pipeline);
    let packages = packages(&pipeline);

    // Everything that can fail on the user's setup fails here, before anything is built or written.
    check_targets(&groups)?;
    let venv = tools::venv()?;
    // Two builds at once (two terminals, or tests in parallel) would race on cargo-lambda's output
    // files: one builds, the others wait and then find everything fresh.
    let _lock = build_lock(&root.join("target"))?;

    let started = Instant::now();
    let mut artifacts = Vec::new();
    for (i, (arch, names)) in groups.iter().enumerate() {
        let target = arch.rust_target();
        println!(
            "[{}/{}] building {} for {} ({target}) with cargo-lambda, profile {PROFILE}…",
            i + 1,
            groups.len(),
            names.join(" and "),
            arch.lambda_name()
        );
        let step = Instant::now();
        cargo_lambda_build(&venv, &root, &lambda_dir, target, names, &packages)?;
        println!(
            "[{}/{}] compiled in {:.1} s",
            i + 1,
            groups.len(),
            step.elapsed().as_secs_f64()
        );
        for name in names {
            let binary = lambda_dir.join(name).join("bootstrap");
            if !binary.is_file() {
                return Err(BuildError::BinaryMissing {
                    function: name.to_string(),
                    path: binary.display().to_string(),
                }
                .into());
            }
            let bytes =
                std::fs::read(&binary).map_err(io(format!("cannot read {}", binary.display())))?;
            check_elf(&binary, &bytes, *arch)?;
            let zip = lambda_dir.join(name).join("bootstrap.zip");
            let (outcome, zipped) = write_zip_if_changed(&zip, &bytes)?;
            artifacts.push(Artifact {
                function: name.clone(),
                sha256: sha256_hex(&zipped),
                zip,
                zip_bytes: zipped.len() as u64,
                binary_bytes: bytes.len() as u64,
                outcome,
            });
        }
    }

    println!(
        "built {} functions in {:.1} s:",
        artifacts.len(),
        started.elapsed().as_secs_f64()
    );
    for a in &artifacts {
        println!(
            "  {:<40} {:>9} (bootstrap {:>9})  sha256 {}  {}",
            a.zip.strip_prefix(&root).unwrap_or(&a.zip).display(),
            human_size(a.zip_bytes),
            human_size(a.binary_bytes),
            &a.sha256[..16],
            match a.outcome {
                ZipOutcome::Written => "written",
                ZipOutcome::Unchanged => "unchanged",
            }
        );
    }
    Ok(artifacts)
}

/// Fails naming every function whose zip is over [`MAX_ZIP_BYTES`], with its size and what to look at.
pub fn check_zip_sizes(artifacts: &[Artifact]) -> Result<(), BuildError> {
    let over: Vec<String> = artifacts
        .iter()
        .filter(|a| a.zip_bytes > MAX_ZIP_BYTES)
        .map(|a| {
            format!(
                "{} is {} ({} bytes)",
                a.zip.display(),
                human_size(a.zip_bytes),
                a.zip_bytes
            )
        })
        .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(BuildError::ZipTooLarge {
            zips: over.join("; "),
            limit: human_size(MAX_ZIP_BYTES),
        })
    }
}

/// Fails unless the standard library of every group's target is in the sysroot cargo will use.
fn check_targets(groups: &[(Architecture, Vec<String>)]) -> Result<(), BuildError> {
    let sysroot = sysroot()?;
    let mut targets = Vec::new();
    let mut needed_by = Vec::new();
    for (arch, names) in groups {
        let target = arch.rust_target();
        if !sysroot
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
        {
            targets.push(target.to_string());
            needed_by.push(format!(
                "{} = \"{}\" of {}",
                "architecture",
                arch.lambda_name(),
                names.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        Ok(())
    } else {
        Err(BuildError::TargetMissing { targets, needed_by })
    }
}

/// The sysroot of the `rustc` cargo runs here (honouring `RUSTC`, rustup overrides and toolchain files).
fn sysroot() -> Result<PathBuf, BuildError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(sluice_config::project_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::Rustc {
            rustc: rustc.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BuildError::Rustc {
            rustc,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn cargo_lambda_build(
    venv: &tools::Venv,
    root: &Path,
    lambda_dir: &Path,
    target: &str,
    names: &[String],
    packages: &std::collections::BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let mut cmd = venv.cargo_lambda_command();
    cmd.args([
        "build",
        "--profile",
        PROFILE,
        "--target",
        target,
        "--output-format",
        "binary",
        "--lambda-dir",
    ])
    .arg(lambda_dir);
    for name in names {
        let package = packages
            .get(name)
            .cloned()
            .unwrap_or_else(|| package_of(name));
        cmd.args(["--package", &package, "--bin", name]);
    }
    cmd.current_dir(root)
        .env("RUSTFLAGS", rustflags(root))
        .stdin(Stdio::null());
    let status = cmd.status().map_err(|source| BuildError::Spawn {
        program: venv.cargo_lambda().display().to_string(),
        source,
    })?;
    if !status.success() {
        return Err(BuildError::CargoLambda {
            target: target.to_string(),
            functions: names.join(", "),
            status: status.to_string(),
        });
    }
    Ok(())
}

/// The caller's `RUSTFLAGS` plus path remapping: the cargo home (registry sources) and the project root
/// appear in panic locations, and must not tie the binary's bytes to where this machine keeps them.
/// (Setting `RUSTFLAGS` also replaces cargo-lambda's `build.rustflags = -C target-cpu=…`: the binaries
/// target the architecture's baseline CPU.)
pub fn rustflags(root: &Path) -> String {
    let mut flags: Vec<String> = std::env::var("RUSTFLAGS")
        .ok()
        .map(|f| f.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut remap = |from: &Path, to: &str| {
        let from = from.to_string_lossy();
        // RUSTFLAGS is split on whitespace: a path with a space cannot be remapped this way.
        if !from.is_empty() && !from.contains(char::is_whitespace) {
            flags.push(format!(
                "--remap-path-prefix={}={to}",
                from.trim_end_matches('/')
            ));
        }
    };
    if let Some(home) = cargo_home {
        remap(&home, "/cargo");
    }
    remap(root, "/sluice");
    flags.join(" ")
}

/// Refuses a file that is not an ELF executable of the architecture (a stale or foreign binary).
fn check_elf(path: &Path, bytes: &[u8], arch: Architecture) -> Result<(), BuildError> {
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    let expected = match arch {
        Architecture::X86_64 => EM_X86_64,
        Architecture::Arm64 => EM_AARCH64,
    };
    let found = if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        "not an ELF file".to_string()
    } else {
        let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
        if machine == expected {
            return Ok(());
        }
        match machine {
            EM_X86_64 => "x86_64".to_string(),
            EM_AARCH64 => "arm64".to_string(),
            other => format!("ELF machine {other}"),
        }
    };
    Err(BuildError::WrongBinary {
        path: path.display().to_string(),
        expected: arch.lambda_name().to_string(),
        found,
    })
}

/// The zip Lambda gets: exactly one entry `bootstrap` (deflated, mode 0755, mtime 1980-01-01 00:00:00),
/// no extra fields, no comment. The same binary always gives the same bytes.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, zip::result::ZipError> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // Deflate's best: 0.4% smaller than the default 6 on these binaries, and still byte-stable.
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755)
        .large_file(false);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

/// Writes `zip_bootstrap(binary)` to `path` unless the file already holds exactly those bytes; writes
/// through a temporary file and a rename, so a reader never sees half a zip. Returns what it did and the
/// zip's bytes.
pub fn write_zip_if_changed(
    path: &Path,
    binary: &[u8],
) -> Result<(ZipOutcome, Vec<u8>), BuildError> {
    let bytes = zip_bootstrap(binary).map_err(|source| BuildError::Zip {
        what: format!("cannot zip {}", path.display()),
        source,
    })?;
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok((ZipOutcome::Unchanged, bytes));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    let tmp = path.with_extension("zip.tmp");
    std::fs::write(&tmp, &bytes).map_err(io(format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!(
        "cannot move {} to {}",
        tmp.display(),
        path.display()
    )))?;
    Ok((ZipOutcome::Written, bytes))
}

/// One entry of a zip, as [`zip_entries`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    pub name: String,
    /// The Unix mode bits (`0o755` for an executable), if the zip records them.
    pub unix_mode: Option<u32>,
    pub size: u64,
    pub compression: String,
    /// (year, month, day, hour, minute, second) as stored.
    pub modified: (u16, u8, u8, u8, u8, u8),
}

/// The entries of a zip (for checks and tests).
pub fn zip_entries(path: &Path) -> Result<Vec<ZipEntry>, BuildError> {
    let what = || format!("cannot read {}", path.display());
    let file = std::fs::File::open(path).map_err(io(what()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| BuildError::Zip {
        what: what(),
        source,
    })?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|source| BuildError::Zip {
            what: what(),
            source,
        })?;
        let t = f.last_modified().unwrap_or_default();
        entries.push(ZipEntry {
            name: f.name().to_string(),
            unix_mode: f.unix_mode().map(|m| m & 0o7777),
            size: f.size(),
            compression: f.compression().to_string(),
            modified: (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            ),
        });
    }
    Ok(entries)
}

/// The bytes of the entry `bootstrap` of a function zip.
pub fn read_bootstrap(zip_path: &Path) -> Result<Vec<u8>, BuildError> {
    let what = || format!("cannot read bootstrap from {}", zip_path.display());
    let file = std::fs::File::open(zip_path).map_err(io(what()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| BuildError::Zip {
        what: what(),
        source,
    })?;
    let mut entry = archive
        .by_name("bootstrap")
        .map_err(|source| BuildError::Zip {
            what: what(),
            source,
        })?;
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut bytes).map_err(io(what()))?;
    Ok(bytes)
}

/// The lowercase hex SHA-256 of a file (Terraform's `filesha256`).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(path)?))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = include_str!("../../../pipeline.toml");

    fn pipeline_with(authorizer: &str, writer: &str) -> Pipeline {
        let src = SRC
            .replacen(
                "architecture = \"x86_64\"    # or",
                &format!("architecture = \"{authorizer}\"    # or"),
                1,
            )
            .replacen(
                "[functions.writer]\narchitecture = \"x86_64\"",
                &format!("[functions.writer]\narchitecture = \"{writer}\""),
                1,
            );
        sluice_config::parse(&src, "pipeline.toml").expect("valid pipeline")
    }

    #[test]
    fn functions_of_one_architecture_build_together() {
        let p = pipeline_with("x86_64", "x86_64");
        assert_eq!(
            plan(&p),
            vec![(Architecture::X86_64, names(&["authorizer", "writer"]))]
        );
        let p = pipeline_with("arm64", "x86_64");
        assert_eq!(
            plan(&p),
            vec![
                (Architecture::Arm64, names(&["authorizer"])),
                (Architecture::X86_64, names(&["writer"]))
            ]
        );
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_users_functions_build_after_the_stock_two_in_their_architecture() {
        let root = sluice_config::project_root();
        let p = sluice_config::load(&root.join("examples/enrich/pipeline.toml")).unwrap();
        assert_eq!(
            plan(&p),
            vec![(
                Architecture::X86_64,
                names(&["authorizer", "writer", "enricher"])
            )]
        );
        let src = std::fs::read_to_string(root.join("examples/enrich/pipeline.toml"))
            .unwrap()
            .replace(
                "memory_mb = 256",
                "memory_mb = 256\narchitecture = \"arm64\"",
            );
        let p =
            sluice_config::parse_in(&src, "pipeline.toml", &root.join("examples/enrich")).unwrap();
        assert_eq!(
            plan(&p),
            vec![
                (Architecture::X86_64, names(&["authorizer", "writer"])),
                (Architecture::Arm64, names(&["enricher"]))
            ]
        );
    }

    #[test]
    fn the_zip_is_byte_stable_with_one_executable_entry() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let a = zip_bootstrap(&binary).unwrap();
        let b = zip_bootstrap(&binary).unwrap();
        assert_eq!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f/bootstrap.zip");
        assert_eq!(
            write_zip_if_changed(&path, &binary).unwrap().0,
            ZipOutcome::Written
        );
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(
            write_zip_if_changed(&path, &binary).unwrap().0,
            ZipOutcome::Unchanged
        );
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let entries = zip_entries(&path).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "bootstrap");
        assert_eq!(entries[0].unix_mode, Some(0o755));
        assert_eq!(entries[0].modified, (1980, 1, 1, 0, 0, 0));
        assert_eq!(read_bootstrap(&path).unwrap(), binary);
        assert_eq!(
            write_zip_if_changed(&path, b"other").unwrap().0,
            ZipOutcome::Written
        );
    }

    #[test]
    fn every_function_is_built_from_its_own_package() {
        for name in FUNCTIONS {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../lambdas")
                .join(name)
                .join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            assert!(
                text.contains(&format!("name = \"{}\"", package_of(name)))
                    && text.contains(&format!("name = \"{name}\"")),
                "{} does not define package {} with bin {name}",
                manifest.display(),
                package_of(name)
            );
        }
    }

    #[test]
    fn a_zip_over_4_mib_is_named_with_its_size() {
        let artifact = |function: &str, zip_bytes| Artifact {
            function: function.to_owned(),
            zip: PathBuf::from(format!("target/lambda/{function}/bootstrap.zip")),
            zip_bytes,
            binary_bytes: zip_bytes * 3,
            sha256: String::new(),
            outcome: ZipOutcome::Written,
        };
        let at_limit = [
            artifact("authorizer", 1 << 20),
            artifact("writer", MAX_ZIP_BYTES),
        ];
        assert!(check_zip_sizes(&at_limit).is_ok());
        let over = [
            artifact("authorizer", MAX_ZIP_BYTES - 1),
            artifact("writer", MAX_ZIP_BYTES + 1),
        ];
        let err = check_zip_sizes(&over).unwrap_err().to_string();
        assert_eq!(
            err,
            "a function zip is over 4.00 MiB: target/lambda/writer/bootstrap.zip is 4.00 MiB (4194305 bytes)"
        );
    }

    #[test]
    fn a_foreign_binary_is_refused() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert!(check_elf(Path::new("b"), &elf, Architecture::X86_64).is_ok());
        let err = check_elf(Path::new("b"), &elf, Architecture::Arm64).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a Linux arm64 executable (x86_64)"),
            "{err}"
        );
        assert!(check_elf(Path::new("b"), b"#!/bin/sh", Architecture::X86_64).is_err());
    }

    #[test]
    fn rustflags_remap_the_project_root() {
        let flags = rustflags(Path::new("/work/p"));
        assert!(
            flags.contains("--remap-path-prefix=/work/p=/sluice"),
            "{flags}"
        );
    }
}
