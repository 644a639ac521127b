//! The local Basic credentials: given with `--credentials user:pass`, or generated on first run; either way
//! kept in `<state-dir>/credentials.json` (`{"username":…,"password":…}`, mode 0600), the same shape as the
//! Secrets Manager secret on AWS. Nothing here logs or displays the password.
//!
//! Rotation (`cargo xtask rotate --local`, [`rotate`]) keeps the AWS model: the file then also holds when the
//! current password was created (`created`, seconds since the epoch, Secrets Manager's `CreatedDate`) and
//! the previous set (`previous`, Secrets Manager's `AWSPREVIOUS`); [`revoke_previous`] removes it. The
//! running `cargo xtask dev` reads the file through [`CredentialsFile`] with the authorizer's rules (cache,
//! recheck, grace period), so the same timeline holds locally and on AWS.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sluice_authorizer::{CredentialSets, CredentialsSource, SourceError, StoredCredentials};

use rand::distr::{Alphanumeric, SampleString as _};
use serde::{Deserialize, Serialize};

/// Length of a generated password.
const GENERATED_PASSWORD_CHARS: usize = 32;

/// Where the credentials in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--credentials` on the command line (and stored for `smoke-test --local`).
    Given,
    /// Generated now, on the first run.
    Generated,
    /// Read from the credentials file of an earlier run.
    Stored,
}

/// The credentials the local gateway accepts. `Debug` shows the usernames only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCredentials {
    pub username: String,
    pub password: String,
    /// When this password became current (seconds since the epoch); set by [`rotate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// The set this one replaced, accepted for the grace period after `created`; removed by
    /// [`revoke_previous`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousCredentials>,
}

/// The previous credential set of a rotation. `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousCredentials {
    pub username: String,
    pub password: String,
}

impl LocalCredentials {
    fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        LocalCredentials {
            username: username.into(),
            password: password.into(),
            created: None,
            previous: None,
        }
    }

    /// The authorizer's view of the file.
    pub fn credential_sets(&self) -> CredentialSets {
        CredentialSets {
            current: StoredCredentials::new(&self.username, &self.password),
            current_created: SystemTime::UNIX_EPOCH
                + Duration::from_secs(self.created.unwrap_or(0)),
            previous: self
                .previous
                .as_ref()
                .map(|p| StoredCredentials::new(&p.username, &p.password)),
            previous_failed: false,
        }
    }

    fn is_complete(&self) -> bool {
        !self.username.is_empty()
            && !self.password.is_empty()
            && self
                .previous
                .as_ref()
                .is_none_or(|p| !p.username.is_empty() && !p.password.is_empty())
    }
}

impl fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("created", &self.created)
            .field("previous", &self.previous)
            .finish()
    }
}

impl fmt::Debug for PreviousCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreviousCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why the credentials could not be set up. Never quotes a password.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CredentialsError {
    #[error("--credentials must be `user:pass` with a non-empty user and password")]
    #[diagnostic(
        code(sluice::dev::credentials),
        help("for example --credentials alice:s3cret")
    )]
    BadArgument,
    #[error(
        "{path} is not a JSON object {{\"username\":…,\"password\":…}} with non-empty members (and, after a rotation, \"created\" seconds and a \"previous\" {{\"username\",\"password\"}})"
    )]
    #[diagnostic(
        code(sluice::dev::credentials),
        help("delete it to have new credentials generated, or pass --credentials user:pass")
    )]
    BadFile { path: PathBuf },
    #[error("{path} does not exist: there are no local credentials to rotate")]
    #[diagnostic(
        code(sluice::rotate::local),
        help(
            "run `cargo xtask dev` once (it creates them), or pass the same --state-dir as it uses"
        )
    )]
    NothingToRotate { path: PathBuf },
    #[error("cannot read or write {path}: {source}")]
    #[diagnostic(code(sluice::dev::credentials))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The credentials file of a state dir.
pub fn credentials_path(state_dir: &Path) -> PathBuf {
    state_dir.join("credentials.json")
}

/// Parses `user:pass` (the password may contain `:`).
pub fn parse_argument(argument: &str) -> Result<LocalCredentials, CredentialsError> {
    match argument.split_once(':') {
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
            Ok(LocalCredentials::new(user, pass))
        }
        _ => Err(CredentialsError::BadArgument),
    }
}

/// The credentials to use: `given` (stored in the file too), else the file's, else new ones for
/// `default_username` with a random alphanumeric password (stored).
pub fn resolve(
    state_dir: &Path,
    given: Option<&str>,
    default_username: &str,
) -> Result<(LocalCredentials, Origin), CredentialsError> {
    let path = credentials_path(state_dir);
    if let Some(given) = given {
        let credentials = parse_argument(given)?;
        write_private(&path, &credentials)?;
        return Ok((credentials, Origin::Given));
    }
    match read(&path)? {
        Some(credentials) => Ok((credentials, Origin::Stored)),
        None => {
            let credentials = LocalCredentials::new(default_username, generate_password());
            write_private(&path, &credentials)?;
            Ok((credentials, Origin::Generated))
        }
    }
}

fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), GENERATED_PASSWORD_CHARS)
}

/// The file's credentials, `None` if there is no file.
fn read(path: &Path) -> Result<Option<LocalCredentials>, CredentialsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let credentials: LocalCredentials =
                serde_json::from_str(&text).map_err(|_| CredentialsError::BadFile {
                    path: path.to_path_buf(),
                })?;
            if !credentials.is_complete() {
                return Err(CredentialsError::BadFile {
                    path: path.to_path_buf(),
                });
            }
            Ok(Some(credentials))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CredentialsError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Rotates the local credentials as `terraform apply` with a bumped `password_version` rotates the secret:
/// a new random password for the same username becomes current (created now), the current set becomes the
/// previous one (any older previous set is dropped). Returns the new credentials.
pub fn rotate(state_dir: &Path) -> Result<LocalCredentials, CredentialsError> {
    let path = credentials_path(state_dir);
    let old =
        read(&path)?.ok_or_else(|| CredentialsError::NothingToRotate { path: path.clone() })?;
    let new = LocalCredentials {
        username: old.username.clone(),
        password: generate_password(),
        created: Some(now_seconds()),
        previous: Some(PreviousCredentials {
            username: old.username,
            password: old.password,
        }),
    };
    write_private(&path, &new)?;
    Ok(new)
}

/// Ends the previous password at once (Secrets Manager: removing the `AWSPREVIOUS` label). Returns whether
/// there was one.
pub fn revoke_previous(state_dir: &Path) -> Result<bool, CredentialsError> {
    let path = credentials_path(state_dir);
    let mut credentials =
        read(&path)?.ok_or_else(|| CredentialsError::NothingToRotate { path: path.clone() })?;
    if credentials.previous.take().is_none() {
        return Ok(false);
    }
    write_private(&path, &credentials)?;
    Ok(true)
}

/// The credentials file as the running gateway's credentials source: read on every fetch (the
/// authorizer's cache decides how often), so `cargo xtask rotate --local` takes effect without a restart.
#[derive(Debug, Clone)]
pub struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    pub fn new(state_dir: &Path) -> Self {
        CredentialsFile {
            path: credentials_path(state_dir),
        }
    }
}

impl CredentialsSource for CredentialsFile {
    async fn fetch(&self, _grace: Duration) -> Result<CredentialSets, SourceError> {
        match read(&self.path) {
            Ok(Some(credentials)) => Ok(credentials.credential_sets()),
            Ok(None) => Err(SourceError(format!(
                "{} does not exist (deleted while `cargo xtask dev` runs?)",
                self.path.display()
            ))),
            Err(e) => Err(SourceError(e.to_string())),
        }
    }
}

/// Writes the file readable by its owner only (written to a temporary file, then renamed into place).
fn write_private(path: &Path, credentials: &LocalCredentials) -> Result<(), CredentialsError> {
    let io = |source| CredentialsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    let json = serde_json::to_string_pretty(credentials).unwrap_or_default();
    file.write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_need_a_user_and_a_password() {
        assert_eq!(parse_argument("u:p:q").unwrap().password, "p:q");
        assert!(parse_argument("u").is_err());
        assert!(parse_argument(":p").is_err());
        assert!(parse_argument("u:").is_err());
    }

    #[test]
    fn generated_once_then_read_back_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = resolve(dir.path(), None, "sluice").unwrap();
        assert_eq!(origin, Origin::Generated);
        assert_eq!(first.username, "sluice");
        assert_eq!(first.password.len(), GENERATED_PASSWORD_CHARS);
        assert!(first.password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(!format!("{first:?}").contains(&first.password));
        let (again, origin) = resolve(dir.path(), None, "sluice").unwrap();
        assert_eq!((again, origin), (first, Origin::Stored));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(credentials_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
