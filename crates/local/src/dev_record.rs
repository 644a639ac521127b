//! Where a running `cargo xtask dev` listens, recorded in its state dir (`<state-dir>/dev.json`: pid, port,
//! stage, config path) so that the commands talking to it (`send`, `smoke-test --local`) need no `--port`.
//! [`run`](crate::run) writes it once the gateway listens and removes it on a clean stop; a record whose
//! process is gone (a crash, `kill -9`) is ignored by [`running_dev`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The record's file name in the state dir.
pub const DEV_RECORD: &str = "dev.json";

/// What `cargo xtask dev` records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevRecord {
    /// The process serving.
    pub pid: u32,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The stage, the URLs' first segment.
    pub stage: String,
    /// The pipeline file it runs.
    pub config: PathBuf,
}

impl DevRecord {
    /// `http://127.0.0.1:<port>/<stage>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, self.stage)
    }
}

/// `<state-dir>/dev.json`.
pub fn dev_record_path(state_dir: &Path) -> PathBuf {
    state_dir.join(DEV_RECORD)
}

/// The `cargo xtask dev` serving this state dir, if one is: its record, when the file exists, reads, and
/// names a process that is still alive.
pub fn running_dev(state_dir: &Path) -> Option<DevRecord> {
    let text = std::fs::read_to_string(dev_record_path(state_dir)).ok()?;
    let record: DevRecord = serde_json::from_str(&text).ok()?;
    process_alive(record.pid).then_some(record)
}

/// Writes the record (to a temporary file first, so a reader never sees half of it).
pub(crate) fn write(state_dir: &Path, record: &DevRecord) -> std::io::Result<()> {
    let path = dev_record_path(state_dir);
    let tmp = state_dir.join(format!("{DEV_RECORD}.{}.tmp", record.pid));
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, &path)
}

/// Removes the record if it is this process's (another `dev` may have taken the state dir since).
pub(crate) fn remove(state_dir: &Path) {
    let path = dev_record_path(state_dir);
    let ours = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<DevRecord>(&t).ok())
        .is_some_and(|r| r.pid == std::process::id());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`; elsewhere `kill -0`).
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32) -> DevRecord {
        DevRecord {
            pid,
            port: 4566,
            stage: "prod".into(),
            config: PathBuf::from("/somewhere/pipeline.toml"),
        }
    }

    #[test]
    fn a_live_record_is_read_a_stale_or_missing_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running_dev(dir.path()), None);
        let ours = record(std::process::id());
        write(dir.path(), &ours).unwrap();
        assert_eq!(running_dev(dir.path()), Some(ours.clone()));
        assert_eq!(ours.base_url(), "http://127.0.0.1:4566/prod");
        remove(dir.path());
        assert!(!dev_record_path(dir.path()).exists());

        // A process that has exited: its pid is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        write(dir.path(), &record(gone)).unwrap();
        assert_eq!(running_dev(dir.path()), None);
        // Not ours: left in place.
        remove(dir.path());
        assert!(dev_record_path(dir.path()).exists());

        std::fs::write(dev_record_path(dir.path()), "not json").unwrap();
        assert_eq!(running_dev(dir.path()), None);
    }
}
