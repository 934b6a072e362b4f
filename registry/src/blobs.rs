//! Bundle files, one per SHA-256 in the blob directory, and keeping a published
//! version: the file lands first, its version row makes it visible.

use crate::db::{self, Version};
use rusqlite::Connection;
use std::path::PathBuf;

/// The blob directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// Why a bundle was not kept.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// The version is published already (published versions never change).
    #[error("{0}")]
    Exists(String),
    /// The file or the database failed.
    #[error("{0}")]
    Failed(String),
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No file has this digest (deleted, or never restored from a backup).
    #[error("{0}")]
    Missing(String),
    /// The file is there but could not be read.
    #[error("{0}")]
    Failed(String),
}

impl From<rusqlite::Error> for KeepError {
    fn from(err: rusqlite::Error) -> Self {
        KeepError::Failed(format!("database: {err}"))
    }
}

impl Blobs {
    pub fn new(dir: PathBuf) -> Blobs {
        Blobs { dir }
    }

    /// Where the bundle with this digest is.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.linli"))
    }

    /// The bundle with this digest; the error names its file.
    pub fn read(&self, sha256: &str) -> Result<Vec<u8>, ReadError> {
        let path = self.path(sha256);
        std::fs::read(&path).map_err(|err| {
            let message = format!("bundle {}: {err}", path.display());
            match err.kind() {
                std::io::ErrorKind::NotFound => ReadError::Missing(message),
                _ => ReadError::Failed(message),
            }
        })
    }

    /// Keep a bundle's file and its version row. The file lands first (written beside
    /// and renamed, named by its digest); the row makes it visible. A version that
    /// exists is refused, and the file of the loser of a race is removed unless the
    /// winner's is the same bundle.
    pub fn keep(
        &self,
        conn: &Connection,
        version: &Version,
        bytes: &[u8],
    ) -> Result<(), KeepError> {
        let path = self.path(&version.sha256);
        let existed = path.exists();
        if !existed {
            let partial = path.with_extension(format!("partial-{}", std::process::id()));
            std::fs::write(&partial, bytes)
                .and_then(|()| std::fs::File::open(&partial)?.sync_all())
                .and_then(|()| std::fs::rename(&partial, &path))
                .map_err(|err| KeepError::Failed(format!("bundle {}: {err}", path.display())))?;
        }
        if !db::insert_version(conn, version).map_err(KeepError::Failed)? {
            let kept = db::version(conn, &version.namespace, &version.name, &version.version)?;
            if !existed && kept.is_none_or(|kept| kept.sha256 != version.sha256) {
                let _ = std::fs::remove_file(&path);
            }
            return Err(KeepError::Exists(format!(
                "{}/{} {} is already published; published versions never change: publish a new version",
                version.namespace, version.name, version.version
            )));
        }
        Ok(())
    }
}
