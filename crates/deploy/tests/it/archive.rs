//! Archives: deterministic bytes that read back as the project's files, without secrets.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::time::Duration;

use c15t_deploy::{ArchiveFormat, DeployError, archive};
use flate2::read::GzDecoder;

use crate::release::generated_release;
use crate::support::{CANARY, expected, file, release, with_files};

fn read_tar_gz(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut tar = tar::Archive::new(GzDecoder::new(bytes));
    for entry in tar.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header();
        assert_eq!(header.mode().expect("mode"), 0o644);
        assert_eq!(header.mtime().expect("mtime"), 315_532_800);
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut contents = String::new();
        entry.read_to_string(&mut contents).expect("contents");
        assert!(out.insert(path, contents).is_none(), "duplicate entry");
    }
    out
}

fn read_zip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("zip entry");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o644));
        let path = entry.name().expect("entry name").into_owned();
        let mut contents = String::new();
        entry.read_to_string(&mut contents).expect("contents");
        assert!(out.insert(path, contents).is_none(), "duplicate entry");
    }
    out
}

fn read(format: ArchiveFormat, bytes: &[u8]) -> BTreeMap<String, String> {
    match format {
        ArchiveFormat::TarGz => read_tar_gz(bytes),
        ArchiveFormat::Zip => read_zip(bytes),
    }
}

#[test]
fn archives_hold_exactly_the_project_under_the_worker_folder() {
    let release = generated_release();
    let want: BTreeMap<String, String> = expected(&release)
        .into_iter()
        .map(|(p, c)| (format!("{}/{p}", release.worker_name()), c))
        .collect();
    for format in [ArchiveFormat::TarGz, ArchiveFormat::Zip] {
        let bytes = archive(&release, format).expect("archive");
        let got = read(format, &bytes);
        assert_eq!(got, want, "{format}");
        assert!(
            got.keys().any(|p| p.ends_with("/.dev.vars.example")),
            "{format}: the secrets template is included"
        );
        for contents in got.values() {
            assert!(
                !contents.contains(CANARY),
                "{format}: a secret value was archived"
            );
        }
    }
}

#[test]
fn archives_are_deterministic() {
    let a = release("A", true);
    // The same files given in another order make the same release.
    let mut reversed = a.files().to_vec();
    reversed.reverse();
    let b = with_files("acme", reversed);
    let formats = [ArchiveFormat::TarGz, ArchiveFormat::Zip];
    let first: Vec<Vec<u8>> = formats
        .iter()
        .map(|&f| archive(&a, f).expect("archive"))
        .collect();
    // Nothing may depend on the clock: wait past tar's and zip's time resolution (one and two
    // seconds) before building again.
    std::thread::sleep(Duration::from_millis(2100));
    for (format, first) in formats.into_iter().zip(first) {
        let second = archive(&b, format).expect("archive");
        assert!(first == second, "{format}: bytes differ between two runs");
        let other = archive(&release("B", true), format).expect("archive");
        assert!(
            first != other,
            "{format}: different releases give different bytes"
        );
    }
    assert_eq!(ArchiveFormat::TarGz.extension(), ".tar.gz");
    assert_eq!(ArchiveFormat::Zip.content_type(), "application/zip");
}

#[test]
fn archives_refuse_unsafe_paths() {
    for bad in ["../x", "/etc/x", "a/../../x"] {
        let r = with_files("acme", vec![file("ok.ts", "ok"), file(bad, "evil")]);
        for format in [ArchiveFormat::TarGz, ArchiveFormat::Zip] {
            match archive(&r, format) {
                Err(DeployError::UnsafePath { path, .. }) => assert_eq!(path, bad),
                other => panic!("{bad}: {format}: expected a refusal, got {other:?}"),
            }
        }
    }
}
