//! One local pipeline per state dir: [`start`](crate::start) takes an exclusive `flock` on
//! `<state-dir>/dev.lock` before it touches anything else there, and holds it until the pipeline is dropped.
//! A second `cargo xtask dev` (or `start`) on the same state dir is refused, naming the holder: its pid is
//! written into the lock file once the lock is held, its port comes from the holder's `dev.json` record
//! ([`running_dev`](crate::running_dev)). The kernel releases the lock when the holder exits, however it
//! exits (`kill -9` included), so a stale lock file never blocks a start.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The lock file's name in the state dir.
pub const DEV_LOCK: &str = "dev.lock";

/// Why the state dir could not be locked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("the state dir {} is in use by another `cargo xtask dev` ({holder})", state_dir.display())]
    #[diagnostic(
        code(sluice::dev::state_dir_in_use),
        help(
            "stop that process first (Ctrl-C in its terminal, or `kill {pid}`), or give this one another --state-dir"
        )
    )]
    Held {
        state_dir: PathBuf,
        /// "pid 123, port 4566", or what is known of it.
        holder: String,
        /// The holder's pid, or `<pid>` when the lock file does not say.
        pid: String,
    },
    #[error("cannot lock {}: {source}", path.display())]
    #[diagnostic(
        code(sluice::dev::lock),
        help("check that the state dir is writable (and on a filesystem that supports `flock`)")
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Creates the state dir if needed and takes its lock, or says who holds it.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let path = state_dir.join(DEV_LOCK);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        // Not truncated on open: the holder's pid stays readable to whoever is refused.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                return Err(held(state_dir, pid));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(StateLock { _file: file })
    }
}

fn held(state_dir: &Path, pid: Option<u32>) -> LockError {
    let record = crate::running_dev(state_dir);
    let holder = match (pid, &record) {
        (Some(pid), Some(r)) if r.pid == pid => format!("pid {pid}, port {}", r.port),
        (Some(pid), _) => format!("pid {pid}, not listening yet"),
        (None, Some(r)) => format!("pid {}, port {}", r.pid, r.port),
        (None, None) => "its pid is not recorded yet".to_owned(),
    };
    LockError::Held {
        state_dir: state_dir.to_path_buf(),
        holder,
        pid: pid.map_or("<pid>".to_owned(), |p| p.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        let refused = StateLock::acquire(dir.path()).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(
            text.contains("in use by another `cargo xtask dev`"),
            "{text}"
        );
        drop(first);
        StateLock::acquire(dir.path()).unwrap();
    }
}
