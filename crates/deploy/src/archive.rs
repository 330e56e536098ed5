//! Downloadable archives of a release's project: `.tar.gz` or `.zip`.
//!
//! Archives are deterministic: entries sorted by path, every file `0644` with the same fixed
//! modification time (1980-01-01, the earliest a zip can hold), no owner names, a gzip header
//! without name or time. The same release always gives the same bytes, so an archive can be
//! cached and compared by hash. Entries sit in one folder named after the worker, so unpacking
//! does not scatter files into the current folder. Secrets are never included.

use std::fmt;
use std::io::{self, Cursor, Write};

use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};

use crate::path::{check_files, check_segment};
use crate::{DeployError, Release};

/// 1980-01-01T00:00:00Z, in seconds since the Unix epoch.
const MTIME: u64 = 315_532_800;
/// Permissions of every file.
const MODE: u32 = 0o644;

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveFormat {
    /// A gzip-compressed tar file.
    TarGz,
    /// A zip file (deflate).
    Zip,
}

impl ArchiveFormat {
    /// The file name extension, with its leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::TarGz => ".tar.gz",
            Self::Zip => ".zip",
        }
    }

    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::TarGz => "application/gzip",
            Self::Zip => "application/zip",
        }
    }
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TarGz => "tar.gz",
            Self::Zip => "zip",
        })
    }
}

/// The release's project as one archive, every file under `<worker name>/`.
///
/// Refuses the same paths the file deployer refuses.
pub fn archive(release: &Release, format: ArchiveFormat) -> Result<Vec<u8>, DeployError> {
    check_files(release.files())?;
    check_segment(release.worker_name())?;
    let entries = release.files().iter().map(|f| {
        (
            format!("{}/{}", release.worker_name(), f.path),
            f.contents.as_bytes(),
        )
    });
    match format {
        ArchiveFormat::TarGz => tar_gz(entries),
        ArchiveFormat::Zip => zip(entries),
    }
    .map_err(|source| DeployError::Archive { format, source })
}

fn tar_gz<'a>(entries: impl Iterator<Item = (String, &'a [u8])>) -> io::Result<Vec<u8>> {
    // The OS byte is fixed too ("unknown"), so the bytes do not depend on the build platform.
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(MODE);
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, &path, bytes)?;
    }
    tar.into_inner()?.finish()
}

fn zip<'a>(entries: impl Iterator<Item = (String, &'a [u8])>) -> io::Result<Vec<u8>> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(MODE);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in entries {
        zip.start_file(path, options).map_err(io::Error::other)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish().map_err(io::Error::other)?.into_inner())
}
