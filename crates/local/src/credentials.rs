//! The local Basic credentials: given with `--credentials user:pass`, or generated on first run; either way
//! kept in `<state-dir>/credentials.json` (`{"username":…,"password":…}`, mode 0600), the same shape as the
//! Secrets Manager secret on AWS. Nothing here logs or displays the password.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

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

/// The credentials the local gateway accepts. `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredentials")
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
    #[error("{path} is not a JSON object {{\"username\":…,\"password\":…}} with non-empty members")]
    #[diagnostic(
        code(sluice::dev::credentials),
        help("delete it to have new credentials generated, or pass --credentials user:pass")
    )]
    BadFile { path: PathBuf },
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
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => Ok(LocalCredentials {
            username: user.to_owned(),
            password: pass.to_owned(),
        }),
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
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let credentials: LocalCredentials = serde_json::from_str(&text)
                .map_err(|_| CredentialsError::BadFile { path: path.clone() })?;
            if credentials.username.is_empty() || credentials.password.is_empty() {
                return Err(CredentialsError::BadFile { path });
            }
            Ok((credentials, Origin::Stored))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let credentials = LocalCredentials {
                username: default_username.to_owned(),
                password: Alphanumeric.sample_string(&mut rand::rng(), GENERATED_PASSWORD_CHARS),
            };
            write_private(&path, &credentials)?;
            Ok((credentials, Origin::Generated))
        }
        Err(source) => Err(CredentialsError::Io { path, source }),
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
