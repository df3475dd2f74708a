//! HTTP basic-auth credentials, with a password file that is re-read when it changes.
//!
//! Kubernetes updates a mounted Secret by swapping a symlink to a new file; the operator must pick up
//! the new password without a restart. Each request stats the file (a microsecond on a tmpfs mount,
//! cheaper than a watcher task and free of its failure modes) and re-reads it when its identity
//! (inode), size or modification time changed. A 401 also forces a re-read on the next request. If the
//! file is briefly missing during the swap, the last password read is used.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::config::{PasswordSource, Secret, io_reason};

use super::KeaError;

/// Basic-auth credentials for Kea.
#[derive(Debug)]
pub struct BasicAuth {
    username: String,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Inline(Secret),
    File {
        path: PathBuf,
        cache: Mutex<Option<Cached>>,
    },
}

#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    password: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl BasicAuth {
    pub fn new(username: String, password: &PasswordSource) -> Self {
        let source = match password {
            PasswordSource::Inline(secret) => Source::Inline(secret.clone()),
            PasswordSource::File(path) => Source::File {
                path: path.clone(),
                cache: Mutex::new(None),
            },
        };
        BasicAuth { username, source }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The current password.
    pub fn password(&self) -> Result<Secret, KeaError> {
        match &self.source {
            Source::Inline(secret) => Ok(secret.clone()),
            Source::File { path, cache } => {
                let stamp = std::fs::metadata(path).ok().map(|m| Stamp {
                    inode: m.ino(),
                    len: m.len(),
                    modified: m.modified().ok(),
                });
                let mut cache = cache.lock();
                if let (Some(cached), Some(stamp)) = (cache.as_ref(), stamp.as_ref())
                    && cached.stamp == *stamp
                {
                    return Ok(cached.password.clone());
                }
                match (read_password(path), stamp) {
                    (Ok(password), Some(stamp)) => {
                        *cache = Some(Cached {
                            stamp,
                            password: password.clone(),
                        });
                        Ok(password)
                    }
                    (Ok(password), None) => Ok(password),
                    (Err(e), _) => match cache.as_ref() {
                        // Mid-rotation: keep using the last good password.
                        Some(cached) => Ok(cached.password.clone()),
                        None => Err(e),
                    },
                }
            }
        }
    }

    /// Forget the cached password so the next request re-reads the file (after a 401).
    pub fn invalidate(&self) {
        if let Source::File { cache, .. } = &self.source {
            *cache.lock() = None;
        }
    }
}

fn read_password(path: &PathBuf) -> Result<Secret, KeaError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeaError::Config {
        variable: "KEA_BASIC_AUTH_PASSWORD_FILE",
        message: format!("cannot read {}: {}", path.display(), io_reason(&e)),
    })?;
    // Secrets made with `echo` end in a newline that is not part of the password.
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(KeaError::Config {
            variable: "KEA_BASIC_AUTH_PASSWORD_FILE",
            message: format!("{} is empty", path.display()),
        });
    }
    Ok(Secret::new(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_file_is_picked_up_and_a_missing_file_keeps_the_last_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "first\n").unwrap();
        let auth = BasicAuth::new("op".into(), &PasswordSource::File(path.clone()));
        assert_eq!(auth.password().unwrap().expose(), "first");

        // Kubernetes-style rotation: a new file renamed over the old one (new inode).
        let next = dir.path().join("password.new");
        std::fs::write(&next, "second\r\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(auth.password().unwrap().expose(), "second");

        std::fs::remove_file(&path).unwrap();
        assert_eq!(auth.password().unwrap().expose(), "second");
        auth.invalidate();
        let e = auth.password().unwrap_err();
        assert_eq!(e.category(), "config");
        assert!(e.to_string().contains("no such file"));
    }

    #[test]
    fn empty_file_is_an_error_and_inline_passwords_are_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "\n").unwrap();
        let auth = BasicAuth::new("op".into(), &PasswordSource::File(path));
        assert!(auth.password().unwrap_err().to_string().contains("empty"));
        let inline = BasicAuth::new("op".into(), &PasswordSource::Inline(Secret::new("pw")));
        assert_eq!(inline.password().unwrap().expose(), "pw");
    }
}
