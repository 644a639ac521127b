//! `cargo xtask build`, black-box: the zips the generated Terraform references are byte-stable across
//! rebuilds, hold exactly one executable `bootstrap` that runs on Lambda's `provided.al2023`, and a
//! missing Rust target fails before anything is built or written, naming the fix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use sluice_build::FUNCTIONS;
use sluice_tests::{XtaskRun, cargo_xtask, workspace_root};

/// A cold release build of both functions takes several minutes on two cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);

fn zip_path(function: &str) -> PathBuf {
    workspace_root()
        .join("target/lambda")
        .join(function)
        .join("bootstrap.zip")
}

fn build() -> XtaskRun {
    let run = cargo_xtask(&["build"], BUILD_TIMEOUT);
    assert!(
        run.status.success(),
        "cargo xtask build failed ({})\n{}",
        run.status,
        run.output
    );
    run
}

/// The first build of this test process (bringing the zips up to date with the code), shared by the tests.
fn built() -> &'static str {
    static FIRST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FIRST.get_or_init(|| build().output)
}

fn fingerprint(function: &str) -> (String, SystemTime) {
    let path = zip_path(function);
    let sha =
        sluice_build::sha256_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("zip mtime");
    (sha, mtime)
}

#[test]
fn rebuilding_unchanged_code_leaves_every_zip_byte_identical() {
    built();
    let before: Vec<_> = FUNCTIONS.iter().map(|f| fingerprint(f)).collect();
    let again = build();
    let after: Vec<_> = FUNCTIONS.iter().map(|f| fingerprint(f)).collect();
    for ((function, (sha_before, mtime_before)), (sha_after, mtime_after)) in
        FUNCTIONS.iter().zip(&before).zip(&after)
    {
        assert_eq!(
            sha_before, sha_after,
            "{function}: the zip's SHA-256 changed on a rebuild\n{}",
            again.output
        );
        assert_eq!(
            mtime_before, mtime_after,
            "{function}: the zip was rewritten although its bytes are the same"
        );
    }
    assert!(
        !again.output.contains("Compiling "),
        "the second build compiled something:\n{}",
        again.output
    );
    assert_eq!(
        again.output.matches(" unchanged").count(),
        FUNCTIONS.len(),
        "{}",
        again.output
    );
}

#[test]
fn each_zip_holds_exactly_an_executable_bootstrap_for_its_architecture() {
    built();
    let pipeline = sluice_config::load(&workspace_root().join("pipeline.toml"))
        .expect("pipeline.toml is valid");
    for function in FUNCTIONS {
        let path = zip_path(function);
        let entries = sluice_build::zip_entries(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries.len(), 1, "{}: {entries:?}", path.display());
        let entry = &entries[0];
        assert_eq!(entry.name, "bootstrap");
        assert_eq!(
            entry.unix_mode,
            Some(0o755),
            "{function}: bootstrap must be executable"
        );
        assert_eq!(
            entry.modified,
            (1980, 1, 1, 0, 0, 0),
            "{function}: fixed timestamp"
        );
        assert_eq!(entry.compression, "Deflated");

        let binary = sluice_build::read_bootstrap(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(binary.len() as u64, entry.size);
        let architecture = match function {
            "authorizer" => pipeline.functions.authorizer.architecture,
            _ => pipeline.functions.writer.architecture,
        };
        let expected_machine: u16 = match architecture {
            sluice_config::Architecture::X86_64 => 62,
            sluice_config::Architecture::Arm64 => 183,
        };
        assert_eq!(&binary[..4], b"\x7fELF", "{function}: not an ELF file");
        assert_eq!(
            u16::from_le_bytes([binary[18], binary[19]]),
            expected_machine,
            "{function}: wrong architecture"
        );

        // provided.al2023 has glibc 2.34: no symbol may need a newer one (zig links against old stubs).
        let newest =
            newest_glibc(&binary).expect("a dynamically linked Linux binary names GLIBC versions");
        assert!(
            newest <= (2, 34),
            "{function} needs GLIBC_{}.{}, newer than Lambda's 2.34",
            newest.0,
            newest.1
        );

        // No path of this machine (cargo home, project root) is baked into the binary.
        let root = workspace_root().to_string_lossy().into_owned();
        assert!(
            !contains(&binary, root.as_bytes()),
            "{function}: the binary contains the project path {root}; builds elsewhere would differ"
        );
        if let Some(home) = std::env::var_os("CARGO_HOME")
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo").into()))
        {
            let home = home.to_string_lossy().into_owned();
            assert!(
                !contains(&binary, format!("{home}/registry").as_bytes()),
                "{function}: the binary contains {home}/registry"
            );
        }
    }
}

#[test]
fn a_missing_rust_target_fails_before_building_and_names_the_fix() {
    let target = "aarch64-unknown-linux-gnu";
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(workspace_root())
        .output()
        .expect("rustc");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
    {
        eprintln!("skipped: {target} is installed here, so the arm64 build would run for real");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let src =
        std::fs::read_to_string(workspace_root().join("pipeline.toml")).expect("pipeline.toml");
    let arm = src.replace("architecture = \"x86_64\"", "architecture = \"arm64\"");
    assert_ne!(
        arm, src,
        "pipeline.toml should set architecture = \"x86_64\""
    );
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, arm).expect("write pipeline.toml");
    let lambda_dir = dir.path().join("lambda");

    let run = cargo_xtask(
        &[
            "--config",
            config.to_str().expect("utf-8 temp path"),
            "build",
            "--lambda-dir",
            lambda_dir.to_str().expect("utf-8"),
        ],
        Duration::from_secs(10 * 60),
    );
    assert!(
        !run.status.success(),
        "the arm64 build should fail without {target}\n{}",
        run.output
    );
    assert!(
        run.output.contains(&format!("rustup target add {target}")),
        "the error must name the fix:\n{}",
        run.output
    );
    assert!(
        run.output.contains("authorizer") && run.output.contains("writer"),
        "the error must name the functions:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("building "),
        "it must fail before building:\n{}",
        run.output
    );
    assert!(!lambda_dir.exists(), "it must write nothing");
}

/// The newest `GLIBC_x.y` version named in the binary (its dynamic symbol version needs).
fn newest_glibc(binary: &[u8]) -> Option<(u32, u32)> {
    let needle = b"GLIBC_";
    let mut newest = None;
    let mut i = 0;
    while let Some(pos) = find(&binary[i..], needle) {
        let start = i + pos + needle.len();
        let end = binary[start..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .map_or(binary.len(), |p| start + p);
        let version = std::str::from_utf8(&binary[start..end]).unwrap_or("");
        let mut parts = version.split('.').map(|p| p.parse::<u32>());
        if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
            newest = newest.max(Some((major, minor)));
        }
        i = start;
    }
    newest
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && find(haystack, needle).is_some()
}
