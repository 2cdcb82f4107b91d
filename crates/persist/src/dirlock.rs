//! One server per data directory: an advisory lock (`flock`) on `<dir>/rcache.lock`, held
//! for the process's life. The file holds the owner's PID so the second server can say who
//! holds it; the lock itself, not the file's existence, is what counts (a crashed server
//! leaves the file, and the kernel has already released its lock).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "rcache.lock";

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    pub path: PathBuf,
}

impl DirLock {
    /// Take the lock on `dir`, or say which process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, String> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(format!(
                    "the data directory {} is in use by another rcache server (pid {}); \
                     give each server its own --dir",
                    dir.display(),
                    if pid.is_empty() { "unknown" } else { pid }
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()))
            }
        }
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(DirLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_pid() {
        let dir = std::env::temp_dir().join(format!("rcache-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = DirLock::acquire(&dir).unwrap();
        let err = DirLock::acquire(&dir).unwrap_err();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("in use"), "{err}");
        drop(a);
        let _b = DirLock::acquire(&dir).expect("released on drop");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
