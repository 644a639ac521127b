//! The tools sluice drives, installed into one project-local Python venv (`target/sluice-venv`):
//! cargo-lambda and zig for `cargo xtask build`, moto and airspeed for the tests; and checkov, the IaC
//! scanner the tests run on the generated Terraform, in a venv of its own (`target/sluice-checkov-venv`),
//! because it pins an older boto3 than moto wants.
//!
//! Everything comes from PyPI, so a fresh machine that reaches only PyPI and crates.io can build and
//! test. [`venv`] is quick when everything is there (one short `python` probe) and installs only what is
//! missing, printing a line per package.
//!
//! ```no_run
//! let venv = sluice_build::tools::venv()?;
//! let status = venv.cargo_lambda_command().args(["build", "--release"]).status();
//! # Ok::<(), sluice_build::tools::ToolError>(())
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Where the venv lives, relative to the project root.
pub const VENV_DIR: &str = "target/sluice-venv";

/// A PyPI package the venv must hold.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// What `pip install` is given.
    pub spec: &'static str,
    /// Distributions (as `importlib.metadata` names them) that must be installed, each with an exact
    /// version when the spec pins one.
    pub dists: &'static [(&'static str, Option<&'static str>)],
    /// An executable the package puts into the venv's bin dir.
    pub executable: Option<&'static str>,
}

/// The packages in the venv. cargo-lambda and zig are pinned: they decide the bytes of the Lambda
/// binaries (cargo-lambda's release flags, zig's linker and glibc stubs), so everyone building the same
/// commit gets the same zips. moto and airspeed only serve the tests and float.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        spec: "cargo-lambda==1.9.2",
        dists: &[("cargo-lambda", Some("1.9.2"))],
        executable: Some("cargo-lambda"),
    },
    Requirement {
        spec: "ziglang==0.17.1",
        dists: &[("ziglang", Some("0.17.1"))],
        executable: None,
    },
    Requirement {
        spec: "moto[server]",
        dists: &[("moto", None), ("flask", None), ("flask-cors", None)],
        executable: Some("moto_server"),
    },
    Requirement {
        spec: "airspeed-ext",
        dists: &[("airspeed-ext", None)],
        executable: None,
    },
];

/// Where checkov's venv lives, relative to the project root.
pub const CHECKOV_VENV_DIR: &str = "target/sluice-checkov-venv";

/// checkov, pinned: a new release brings new checks, and the scan test demands an explanation for every
/// finding, so a new check is a deliberate upgrade (bump the pin, explain or fix what it finds), not a red
/// CI run out of nowhere.
pub const CHECKOV_REQUIREMENTS: &[Requirement] = &[Requirement {
    spec: "checkov==3.3.30",
    dists: &[("checkov", Some("3.3.30"))],
    executable: Some("checkov"),
}];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ToolError {
    #[error("cannot run `{python} -m venv {venv}`: {source}")]
    #[diagnostic(
        code(sluice::tools::python),
        help(
            "install Python 3 (3.9 or newer) with its venv module, e.g. `apt-get install python3 python3-venv`, or point SLUICE_PYTHON at one"
        )
    )]
    PythonMissing {
        python: String,
        venv: String,
        source: std::io::Error,
    },
    #[error("`{python} -m venv {venv}` failed ({status}):\n{stderr}")]
    #[diagnostic(
        code(sluice::tools::venv),
        help(
            "on Debian/Ubuntu the venv module is a separate package: `apt-get install python3-venv`; then run the command again"
        )
    )]
    VenvFailed {
        python: String,
        venv: String,
        status: String,
        stderr: String,
    },
    #[error("`pip install {specs}` into {venv} failed ({status})")]
    #[diagnostic(
        code(sluice::tools::pip),
        help(
            "the packages come from PyPI: check that it is reachable (proxy settings: HTTPS_PROXY, PIP_INDEX_URL), then run the command again"
        )
    )]
    PipFailed {
        specs: String,
        venv: String,
        status: String,
    },
    #[error("{what} is still missing from {venv} after installing {spec}")]
    #[diagnostic(
        code(sluice::tools::missing),
        help("delete {venv} and run the command again to rebuild the venv from scratch")
    )]
    StillMissing {
        what: String,
        spec: &'static str,
        venv: String,
    },
    #[error(
        "{venv} is busy: another sluice command has been installing into it for more than {minutes} minutes ({lock})"
    )]
    #[diagnostic(
        code(sluice::tools::lock),
        help("if no other `cargo xtask` command is running, delete {lock} and try again")
    )]
    Locked {
        venv: String,
        lock: String,
        minutes: u64,
    },
    #[error("{what}: {source}")]
    #[diagnostic(code(sluice::tools::io))]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// A project venv, with every package of its requirements present.
#[derive(Debug, Clone)]
pub struct Venv {
    root: PathBuf,
    requirements: &'static [Requirement],
}

/// Ensures the project venv at `<project root>/target/sluice-venv` exists and holds every package of
/// [`REQUIREMENTS`], installing what is missing.
pub fn venv() -> Result<Venv, ToolError> {
    venv_at(&sluice_config::project_root().join(VENV_DIR))
}

/// [`venv`] at another place (tests; a CI cache).
pub fn venv_at(root: &Path) -> Result<Venv, ToolError> {
    venv_with(root, REQUIREMENTS)
}

/// Ensures checkov's venv at `<project root>/target/sluice-checkov-venv` holds [`CHECKOV_REQUIREMENTS`].
pub fn checkov_venv() -> Result<Venv, ToolError> {
    venv_with(
        &sluice_config::project_root().join(CHECKOV_VENV_DIR),
        CHECKOV_REQUIREMENTS,
    )
}

fn venv_with(root: &Path, requirements: &'static [Requirement]) -> Result<Venv, ToolError> {
    let venv = Venv {
        root: root.to_path_buf(),
        requirements,
    };
    // Fast path: everything is there, no lock, one python probe.
    if venv.python().exists() && venv.missing().is_ok_and(|m| m.is_empty()) {
        return Ok(venv);
    }
    let _lock = InstallLock::acquire(&venv)?;
    venv.ensure_python()?;
    let missing = venv.missing()?;
    if missing.is_empty() {
        return Ok(venv);
    }
    let specs: Vec<&str> = missing.iter().map(|r| r.spec).collect();
    for spec in &specs {
        println!("installing {spec} into {}…", venv.display_root());
    }
    let started = Instant::now();
    let status = Command::new(venv.python())
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--no-input",
        ])
        .args(&specs)
        .env("PATH", venv.path_env())
        .env("VIRTUAL_ENV", &venv.root)
        .stdin(Stdio::null())
        .status()
        .map_err(|source| ToolError::Io {
            what: format!("cannot run {}", venv.python().display()),
            source,
        })?;
    if !status.success() {
        return Err(ToolError::PipFailed {
            specs: specs.join(" "),
            venv: venv.display_root(),
            status: status.to_string(),
        });
    }
    let still = venv.missing()?;
    if let Some(r) = still.first() {
        return Err(ToolError::StillMissing {
            what: r
                .dists
                .iter()
                .map(|(d, _)| *d)
                .collect::<Vec<_>>()
                .join(", "),
            spec: r.spec,
            venv: venv.display_root(),
        });
    }
    println!(
        "installed {} in {:.1} s",
        specs.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(venv)
}

impl Venv {
    /// The venv folder.
    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<venv>/bin`: the executables of the installed packages, and `python3` with `ziglang` importable.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// The venv's Python.
    pub fn python(&self) -> PathBuf {
        self.bin_dir().join("python")
    }

    /// The `cargo-lambda` executable. It is a cargo subcommand binary: its first argument is `lambda`
    /// (as when cargo runs it for `cargo lambda …`); [`Venv::cargo_lambda_command`] adds it.
    pub fn cargo_lambda(&self) -> PathBuf {
        self.bin_dir().join("cargo-lambda")
    }

    /// The `moto_server` executable (moto's standalone HTTP server).
    pub fn moto_server(&self) -> PathBuf {
        self.bin_dir().join("moto_server")
    }

    /// The `checkov` executable (in [`checkov_venv`]).
    pub fn checkov(&self) -> PathBuf {
        self.bin_dir().join("checkov")
    }

    /// `PATH` with the venv's bin dir first. cargo-lambda finds zig through cargo-zigbuild, which tries
    /// `python3 -m ziglang` (then `zig`) from `PATH`: with this `PATH` that is the venv's ziglang.
    pub fn path_env(&self) -> OsString {
        let mut paths = vec![self.bin_dir()];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path).filter(|p| p != &self.bin_dir()));
        }
        std::env::join_paths(paths).unwrap_or_else(|_| self.bin_dir().into_os_string())
    }

    /// A command for `program` with this venv active (`PATH`, `VIRTUAL_ENV`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", self.path_env())
            .env("VIRTUAL_ENV", &self.root);
        cmd
    }

    /// `cargo-lambda lambda` with this venv active: append the subcommand (`build`, …) and its flags.
    pub fn cargo_lambda_command(&self) -> Command {
        let mut cmd = self.command(self.cargo_lambda());
        cmd.arg("lambda");
        cmd
    }

    #[cfg(test)]
    /// `python -m ziglang`: zig as shipped by the `ziglang` package; append zig's arguments.
    pub fn zig_command(&self) -> Command {
        let mut cmd = self.command(self.python());
        cmd.args(["-m", "ziglang"]);
        cmd
    }

    fn display_root(&self) -> String {
        let root = sluice_config::project_root();
        self.root
            .strip_prefix(&root)
            .unwrap_or(&self.root)
            .display()
            .to_string()
    }

    /// Creates the venv if its Python is missing or does not run (a venv copied from another path).
    fn ensure_python(&self) -> Result<(), ToolError> {
        let runs = |python: &Path| {
            Command::new(python)
                .args(["-c", "import sys"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if runs(&self.python()) {
            return Ok(());
        }
        let python = std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_string());
        println!(
            "creating a Python venv at {} ({python} -m venv)…",
            self.display_root()
        );
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "venv"]);
        if self.root.exists() {
            cmd.arg("--clear");
        }
        let out = cmd
            .arg(&self.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ToolError::PythonMissing {
                python: python.clone(),
                venv: self.display_root(),
                source,
            })?;
        if !out.status.success() || !runs(&self.python()) {
            return Err(ToolError::VenvFailed {
                python,
                venv: self.display_root(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    /// The requirements not (fully) installed: a missing executable, or a distribution that
    /// `importlib.metadata` does not know or knows at another version than pinned.
    fn missing(&self) -> Result<Vec<&'static Requirement>, ToolError> {
        let dists: Vec<&str> = self
            .requirements
            .iter()
            .flat_map(|r| r.dists.iter().map(|(d, _)| *d))
            .collect();
        // One process for all packages: prints `name=version` (or `name=` when absent) per line.
        let probe = "import sys, importlib.metadata as m\n\
                     for d in sys.argv[1:]:\n\
                     \ttry: v = m.version(d)\n\
                     \texcept m.PackageNotFoundError: v = ''\n\
                     \tprint(d + '=' + v)\n";
        let out = Command::new(self.python())
            .args(["-c", probe])
            .args(&dists)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|source| ToolError::Io {
                what: format!("cannot run {}", self.python().display()),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let installed: Vec<(&str, &str)> =
            stdout.lines().filter_map(|l| l.split_once('=')).collect();
        let ok = |dist: &str, pin: Option<&str>| {
            installed
                .iter()
                .any(|(d, v)| *d == dist && !v.is_empty() && pin.is_none_or(|p| p == *v))
        };
        Ok(self
            .requirements
            .iter()
            .filter(|r| {
                !r.dists.iter().all(|(d, pin)| ok(d, *pin))
                    || r.executable
                        .is_some_and(|exe| !self.bin_dir().join(exe).is_file())
            })
            .collect())
    }
}

/// A directory next to the venv, created atomically, so two commands (parallel tests, two terminals)
/// never run pip into the same venv at once. Only taken when something must be installed.
struct InstallLock {
    path: PathBuf,
}

const LOCK_WAIT: Duration = Duration::from_secs(15 * 60);

impl InstallLock {
    fn acquire(venv: &Venv) -> Result<InstallLock, ToolError> {
        let path = venv.root.with_extension("lock");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ToolError::Io {
                what: format!("cannot create {}", parent.display()),
                source,
            })?;
        }
        let started = Instant::now();
        let mut told = false;
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(InstallLock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock older than the wait is left over from a killed command.
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > LOCK_WAIT) {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(ToolError::Locked {
                            venv: venv.display_root(),
                            lock: path.display().to_string(),
                            minutes: LOCK_WAIT.as_secs() / 60,
                        });
                    }
                    if !told {
                        println!(
                            "waiting for another command to finish installing into {}…",
                            venv.display_root()
                        );
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(source) => {
                    return Err(ToolError::Io {
                        what: format!("cannot create {}", path.display()),
                        source,
                    });
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_names_a_distribution() {
        for r in REQUIREMENTS.iter().chain(CHECKOV_REQUIREMENTS) {
            assert!(!r.dists.is_empty(), "{}", r.spec);
            for (_, pin) in r.dists {
                if let Some(pin) = pin {
                    assert!(
                        r.spec.ends_with(&format!("=={pin}")),
                        "{} pins {pin}",
                        r.spec
                    );
                }
            }
        }
    }

    #[test]
    fn path_env_puts_the_venv_first_once() {
        let venv = Venv {
            root: PathBuf::from("/x/sluice-venv"),
            requirements: REQUIREMENTS,
        };
        let path = venv.path_env();
        let parts: Vec<PathBuf> = std::env::split_paths(&path).collect();
        assert_eq!(parts[0], PathBuf::from("/x/sluice-venv/bin"));
        assert_eq!(parts.iter().filter(|p| **p == parts[0]).count(), 1);
    }

    /// Downloads from PyPI (about 100 MB): `cargo test -p xtask -- --ignored a_fresh_venv`.
    #[test]
    #[ignore = "downloads the tools from PyPI"]
    fn a_fresh_venv_gets_every_tool_and_a_second_call_is_quick() {
        let dir = tempfile::tempdir().unwrap();
        let venv = venv_at(&dir.path().join("venv")).unwrap();
        for exe in [venv.cargo_lambda(), venv.moto_server(), venv.python()] {
            assert!(exe.is_file(), "{}", exe.display());
        }
        let zig = venv.zig_command().arg("version").output().unwrap();
        assert!(zig.status.success() && !zig.stdout.is_empty());
        let help = venv
            .cargo_lambda_command()
            .args(["build", "--help"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&help.stdout).contains("--compiler"));
        let started = Instant::now();
        venv_at(venv.root()).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
