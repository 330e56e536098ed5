//! [`FileDeployer`]: writes a release's project under a root directory, for self-hosted and
//! hybrid customers who run the worker themselves.
//!
//! # Layout and atomicity
//!
//! ```text
//! <root>/<customer>/<environment>                   symlink -> .releases/<environment>/<hex>
//! <root>/<customer>/.releases/<environment>/<hex>/  one complete project per content hash
//! ```
//!
//! A deploy writes every file into `.releases/<environment>/.tmp-<unique>/`, fsyncs each file
//! and folder, renames the folder to its content hash, and then replaces the environment's
//! symlink by creating a new symlink beside it and renaming it over the old one. `rename(2)`
//! replaces the link atomically, so `<environment>` always names one complete project: there is
//! no moment where it is missing or half written. (We chose the link swap over renaming
//! directories, which leaves a window where the environment's path does not exist.)
//!
//! **Reader contract:** resolve `<environment>` once (`realpath`, or open the folder) and read
//! every file relative to what it resolved to. Reading `<environment>/a` and later
//! `<environment>/b` may cross a deploy and mix two releases. The release that was live before
//! the latest deploy is kept, so a reader has at least one full deploy's time to finish; older
//! releases are first renamed away (after which a late reader gets "not found", never a partial
//! project) and then removed.
//!
//! Secrets are never written: only the project's files are, and the generated project names
//! its secrets in `.dev.vars.example` without values. Modules are not written either: a
//! self-hoster builds the worker from source.
//!
//! TODO-correctness: one `FileDeployer` serialises its own deploys, but two processes deploying
//! to the same root at once could prune each other's fresh release. Run one writer per root.
//!
//! Unix only: the swap relies on symlinks and `rename(2)` replacing them, and on fsyncing
//! folders.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::path::{check_files, check_segment};
use crate::{DeployError, DeployOutcome, Deployer, Release, ReleaseFile};

/// Where release folders live, inside a customer's folder.
const RELEASES: &str = ".releases";
/// Temporary folders older than this are leftovers of a crashed deploy and are removed.
const STALE_TMP: Duration = Duration::from_secs(60 * 60);

/// Writes projects to `<root>/<customer>/<environment>/` atomically; see the module docs.
#[derive(Debug)]
pub struct FileDeployer {
    root: PathBuf,
    /// Serialises this deployer's deploys, so pruning never races a deploy of its own.
    lock: Mutex<()>,
}

impl FileDeployer {
    /// A deployer writing under `root` (created on the first deploy if missing). Does no I/O.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            lock: Mutex::new(()),
        }
    }

    /// The configured root, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl Deployer for FileDeployer {
    async fn deploy(&self, release: &Release) -> Result<DeployOutcome, DeployError> {
        // Refuse before touching the file system, so a bad release writes nothing at all.
        check_files(release.files())?;
        check_segment(release.customer().as_str())?;
        check_segment(release.environment().as_str())?;
        let job = Job {
            root: self.root.clone(),
            customer: release.customer().as_str().to_owned(),
            environment: release.environment().as_str().to_owned(),
            hash: release.content_hash_hex().to_owned(),
            files: release.files().to_vec(),
        };
        let _guard = self.lock.lock().await;
        match tokio::task::spawn_blocking(move || job.run()).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(DeployError::Interrupted),
        }
    }
}

/// One deploy, owned so that it can run on a blocking thread.
struct Job {
    root: PathBuf,
    customer: String,
    environment: String,
    hash: String,
    files: Vec<ReleaseFile>,
}

impl Job {
    fn run(self) -> Result<DeployOutcome, DeployError> {
        fs::create_dir_all(&self.root).map_err(DeployError::io("create", &self.root))?;
        let root = self
            .root
            .canonicalize()
            .map_err(DeployError::io("resolve", &self.root))?;
        let customer_dir = root.join(&self.customer);
        let releases = customer_dir.join(RELEASES).join(&self.environment);
        let link = customer_dir.join(&self.environment);
        // Names are single plain segments, so only a symlink placed inside the root could lead
        // out of it; each folder is resolved before anything is created inside it.
        match fs::create_dir(&customer_dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(DeployError::io("create", &customer_dir)(e));
            }
            _ => {}
        }
        check_resolves_to_itself(&customer_dir)?;
        let releases_root = customer_dir.join(RELEASES);
        fs::create_dir_all(&releases_root).map_err(DeployError::io("create", &releases_root))?;
        check_resolves_to_itself(&releases_root)?;
        fs::create_dir_all(&releases).map_err(DeployError::io("create", &releases))?;
        check_resolves_to_itself(&releases)?;
        let target = Path::new(RELEASES).join(&self.environment).join(&self.hash);
        let release_dir = releases.join(&self.hash);
        let outcome = DeployOutcome {
            delivered_path: Some(link.clone()),
            ..DeployOutcome::default()
        };

        let previous = current_target(&link)?;
        if previous.as_deref() == Some(target.as_path()) && release_dir.is_dir() {
            return Ok(outcome);
        }

        // A release folder only ever appears by renaming a complete, synced temporary folder,
        // so one that exists (an earlier release deployed again) is complete.
        if !release_dir.is_dir() {
            self.write_release(&releases, &release_dir)?;
        }

        let staged = create_unique(&customer_dir, &format!(".{}.link", self.environment), |p| {
            symlink(&target, p)
        })
        .map_err(DeployError::io("create a link in", &customer_dir))?;
        if let Err(e) = fs::rename(&staged, &link) {
            let _ = fs::remove_file(&staged);
            return Err(DeployError::io("replace the link", &link)(e));
        }
        sync_dir(&customer_dir)?;

        let keep_previous = previous
            .as_deref()
            .and_then(|p| {
                p.strip_prefix(Path::new(RELEASES).join(&self.environment))
                    .ok()
            })
            .and_then(|p| p.to_str())
            .map(str::to_owned);
        // The link swap just touched the customer's folder, so its modification time is the file
        // system's "now", on the same clock as the leftovers' times.
        let now = fs::metadata(&customer_dir)
            .and_then(|m| m.modified())
            .map_err(DeployError::io("inspect", &customer_dir))?;
        prune(&releases, &self.hash, keep_previous.as_deref(), now)?;
        Ok(outcome)
    }

    /// Writes every file into a temporary folder, syncs it and renames it to `release_dir`.
    fn write_release(&self, releases: &Path, release_dir: &Path) -> Result<(), DeployError> {
        let tmp = create_unique(releases, ".tmp", |p| fs::create_dir(p))
            .map_err(DeployError::io("create a folder in", releases))?;
        let result = write_tree(&tmp, &self.files).and_then(|()| {
            match fs::rename(&tmp, release_dir) {
                Ok(()) => Ok(()),
                // Someone else completed the same release first; theirs is as good as ours.
                Err(_) if release_dir.is_dir() => {
                    fs::remove_dir_all(&tmp).map_err(DeployError::io("remove", &tmp))
                }
                Err(e) => Err(DeployError::io("rename into place", release_dir)(e)),
            }
        });
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result?;
        sync_dir(releases)
    }
}

/// Refuses a folder under the (canonical) root that is reached through a symlink.
fn check_resolves_to_itself(dir: &Path) -> Result<(), DeployError> {
    let resolved = dir
        .canonicalize()
        .map_err(DeployError::io("resolve", dir))?;
    if resolved == dir {
        return Ok(());
    }
    Err(DeployError::UnsafePath {
        path: dir.display().to_string(),
        reason: "the folder leads outside its parent through a symlink",
    })
}

/// Where `link` points, `None` if it does not exist.
fn current_target(link: &Path) -> Result<Option<PathBuf>, DeployError> {
    match fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => fs::read_link(link)
            .map(Some)
            .map_err(DeployError::io("read the link", link)),
        Ok(_) => Err(DeployError::NotAReleaseLink {
            path: link.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DeployError::io("inspect", link)(e)),
    }
}

/// Writes and fsyncs every file under `dir`, then fsyncs every folder it created.
fn write_tree(dir: &Path, files: &[ReleaseFile]) -> Result<(), DeployError> {
    let mut folders = vec![dir.to_owned()];
    for f in files {
        let dest = dir.join(&f.path);
        // Paths are checked to be plain, so this holds; it is checked again as a last guard.
        if !dest.starts_with(dir) {
            return Err(DeployError::UnsafePath {
                path: f.path.clone(),
                reason: "the path escapes the deploy root",
            });
        }
        if let Some(parent) = dest.parent()
            && !folders.iter().any(|d| d == parent)
        {
            fs::create_dir_all(parent).map_err(DeployError::io("create", parent))?;
            let mut p = parent;
            while p != dir && !folders.iter().any(|d| d == p) {
                folders.push(p.to_owned());
                p = p.parent().unwrap_or(dir);
            }
        }
        // `create_new` never follows or overwrites what is already there.
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(DeployError::io("create", &dest))?;
        file.write_all(f.contents.as_bytes())
            .map_err(DeployError::io("write", &dest))?;
        file.sync_all().map_err(DeployError::io("sync", &dest))?;
    }
    for folder in &folders {
        sync_dir(folder)?;
    }
    Ok(())
}

/// Removes release folders other than `current` and `previous`, and leftovers: `.trash`
/// folders and `.tmp` folders older than [`STALE_TMP`] at `now`.
///
/// A folder is renamed to a `.trash` name before it is removed, so a reader still inside it
/// finds nothing rather than a folder losing files one by one.
fn prune(
    releases: &Path,
    current: &str,
    previous: Option<&str>,
    now: SystemTime,
) -> Result<(), DeployError> {
    let entries = fs::read_dir(releases).map_err(DeployError::io("list", releases))?;
    for entry in entries {
        let entry = entry.map_err(DeployError::io("list", releases))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.starts_with(".trash") {
            fs::remove_dir_all(&path).map_err(DeployError::io("remove", &path))?;
        } else if name.starts_with(".tmp") {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP);
            if stale {
                fs::remove_dir_all(&path).map_err(DeployError::io("remove", &path))?;
            }
        } else if is_hash(name) && name != current && Some(name) != previous {
            let trash = unique_path(releases, ".trash");
            fs::rename(&path, &trash).map_err(DeployError::io("move aside", &path))?;
            fs::remove_dir_all(&trash).map_err(DeployError::io("remove", &trash))?;
        }
    }
    Ok(())
}

fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A path in `dir` named `<prefix>-<pid>-<n>` that no other deploy of this process or of
/// another process uses.
fn unique_path(dir: &Path, prefix: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{prefix}-{}-{n}", std::process::id()))
}

/// Creates something at a fresh [`unique_path`] with `create`, skipping names left over by a
/// crashed process that had the same process id.
fn create_unique(
    dir: &Path,
    prefix: &str,
    create: impl Fn(&Path) -> io::Result<()>,
) -> io::Result<PathBuf> {
    loop {
        let path = unique_path(dir, prefix);
        match create(&path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            result => return result.map(|()| path),
        }
    }
}

/// Makes a folder's entries (new files, renames) durable.
fn sync_dir(dir: &Path) -> Result<(), DeployError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(DeployError::io("sync", dir))
}
