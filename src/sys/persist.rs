//! Keeping a namespace alive without a process in it: a bind mount of its
//! nsfs file (`/proc/PID/ns/KIND`) onto an ordinary file; and the
//! `/run/netns` directory of named network namespaces, laid out as iproute2
//! lays it out.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::ns::{NsFile, NsKind};
use super::{mount, Error, OsContext, Result};

/// A bind target must exist and be a file (a namespace file cannot cover a
/// directory). Checked before anything is created, so a bad FILE changes nothing.
pub fn check_target(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).what(|| format!("cannot bind to {}", path.display()))?;
    if meta.is_dir() {
        return Err(Error::os(
            format!("cannot bind to {}", path.display()),
            Errno::EISDIR,
        ));
    }
    Ok(())
}

/// Bind the namespace file `src` onto `target`.
pub fn bind_to_file(src: &Path, target: &Path) -> Result<()> {
    mount::bind(src, target)
}

/// Remove a namespace binding (lazily, as umount -l would).
pub fn unbind(target: &Path) -> Result<()> {
    mount::unmount(target, true)
}

/// One binding to make: the namespace file and the file that keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub source: PathBuf,
    pub target: PathBuf,
}

/// Make bindings in order; on the first failure undo the ones made, so that
/// the caller sees all or nothing. Returns the failing binding's index with the error.
pub fn bind_all(bindings: &[Binding]) -> std::result::Result<(), (usize, Error)> {
    for (i, b) in bindings.iter().enumerate() {
        if let Err(e) = bind_to_file(&b.source, &b.target) {
            for done in bindings[..i].iter().rev() {
                let _ = unbind(&done.target);
            }
            return Err((i, e));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Named network namespaces: the `/run/netns` directory that iproute2's
// `ip netns`, CNI plugins and containerd share.

/// Where named network namespaces live (iproute2's NETNS_RUN_DIR).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Where per-namespace configuration lives (iproute2's NETNS_ETC_DIR):
/// `/etc/netns/NAME/FILE` is bound over `/etc/FILE` by `exec`.
pub const NETNS_ETC_DIR: &str = "/etc/netns";

/// The name of a network namespace in `/run/netns`: one path component, so
/// it cannot reach outside the directory. Validated on construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetnsName(OsString);

impl NetnsName {
    /// NAME_MAX: the longest file name the kernel accepts.
    pub const MAX_LEN: usize = 255;

    /// Accept a name that is one path component: not empty, no `/` and no
    /// NUL, not `.` or `..`, at most 255 bytes.
    pub fn new(name: &OsStr) -> Result<NetnsName> {
        let bytes = name.as_bytes();
        let why = if bytes.is_empty() {
            Some("a name cannot be empty")
        } else if bytes == b"." || bytes == b".." {
            Some("a name cannot be '.' or '..'")
        } else if bytes.contains(&b'/') {
            Some("a name cannot contain '/'")
        } else if bytes.contains(&0) {
            Some("a name cannot contain a NUL byte")
        } else if bytes.len() > Self::MAX_LEN {
            Some("a name is at most 255 bytes")
        } else {
            None
        };
        match why {
            Some(why) => Err(Error::invalid(
                format!("invalid namespace name '{}'", name.to_string_lossy()),
                why,
            )),
            None => Ok(NetnsName(name.to_os_string())),
        }
    }

    pub fn as_os_str(&self) -> &OsStr {
        &self.0
    }

    /// `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(&self.0)
    }
}

impl std::fmt::Display for NetnsName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_string_lossy())
    }
}

/// Make `/run/netns` a shared mount, as iproute2 does, so that a namespace
/// bound there from any mount namespace is seen from all the others: create
/// it, and if it is not a mount point yet, bind it onto itself first.
pub fn prepare_netns_dir() -> Result<()> {
    let dir = Path::new(NETNS_RUN_DIR);
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        created => {
            if created.is_err() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .create(dir)
                    .what(|| format!("cannot create {NETNS_RUN_DIR}"))?;
            }
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
    let shared = || {
        nix::mount::mount(
            Some(""),
            dir,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => Ok(()),
        // mount(2): EINVAL when the path is not a mount point.
        Err(Errno::EINVAL) => {
            mount::rbind(dir, dir)?;
            shared().what(|| format!("cannot make {NETNS_RUN_DIR} a shared mount"))
        }
        Err(errno) => Err(Error::os(
            format!("cannot make {NETNS_RUN_DIR} a shared mount"),
            errno,
        )),
    }
}

/// Bind the network namespace file `source` to `/run/netns/NAME`. The name
/// must be free; on any failure nothing is left behind (no file, no mount).
pub fn bind_netns(source: &Path, name: &NetnsName) -> Result<()> {
    mknod_and_bind(source, &name.path()).map_err(|f| f.error(source, name))
}

/// The caller's own network namespace, as each new one is bound from it.
const THREAD_SELF_NET: &str = "/proc/thread-self/ns/net";

/// The steps of making a named network namespace, each with the message its
/// failure gives (`StepFailure::error`), so that who words the error need
/// not be who made the attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetnsStep {
    /// unshare(CLONE_NEWNET).
    Unshare,
    /// mknod of `/run/netns/NAME`.
    Create,
    /// The bind mount onto it.
    Bind,
}

/// A step that failed, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StepFailure {
    step: NetnsStep,
    errno: Errno,
}

impl StepFailure {
    fn of(step: NetnsStep, e: &Error) -> StepFailure {
        StepFailure {
            step,
            errno: e.errno().unwrap_or(Errno::EIO),
        }
    }

    /// The error for `name`, as the step's own call words it.
    fn error(self, source: &Path, name: &NetnsName) -> Error {
        let target = name.path();
        let errno = self.errno;
        match self.step {
            NetnsStep::Unshare => {
                Error::os(format!("cannot create network namespace {name}"), errno)
            }
            NetnsStep::Create => {
                let e = Error::os(
                    format!("cannot create namespace file \"{}\"", target.display()),
                    errno,
                );
                // A kill between the create and the bind leaves the file alone.
                if errno == Errno::EEXIST && !is_namespace_file(&target) {
                    e.hinted(format!(
                        "it is not bound to a namespace (left by an interrupted add?): \
                         remove it with 'netns delete {name}'"
                    ))
                } else {
                    e
                }
            }
            NetnsStep::Bind => Error::os(
                format!("bind {} -> {} failed", source.display(), target.display()),
                errno,
            ),
        }
    }
}

/// Create `target` and bind `source` onto it; on a failed bind the file
/// made is removed again.
fn mknod_and_bind(source: &Path, target: &Path) -> std::result::Result<(), StepFailure> {
    // mknod(2) of a regular file: created and never opened, one system call
    // where open and close are two (a batch add makes a thousand).
    nix::sys::stat::mknod(
        target,
        nix::sys::stat::SFlag::S_IFREG,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .map_err(|errno| StepFailure {
        step: NetnsStep::Create,
        errno,
    })?;
    if let Err(e) = bind_to_file(source, target) {
        let _ = std::fs::remove_file(target);
        return Err(StepFailure::of(NetnsStep::Bind, &e));
    }
    Ok(())
}

/// Make one new network namespace (we move into it) and bind it to `name`.
fn make_netns(name: &NetnsName) -> std::result::Result<(), StepFailure> {
    super::ns::unshare(net_only()).map_err(|e| StepFailure::of(NetnsStep::Unshare, &e))?;
    mknod_and_bind(Path::new(THREAD_SELF_NET), &name.path())
}

fn net_only() -> super::ns::NsSet {
    let mut net = super::ns::NsSet::empty();
    net.insert(NsKind::Net);
    net
}

/// Create a new network namespace for each name, all or none: each
/// unshare(CLONE_NEWNET) makes a fresh one and the bind keeps it alive once
/// we move on to the next; on a failure the names made so far are removed.
/// (The caller is left in the last namespace made.)
pub fn create_netns(names: &[NetnsName]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if let Err(f) = make_netns(n) {
            // Worded first: the hint looks at the file, which may be one we
            // made (a name given twice).
            let error = f.error(Path::new(THREAD_SELF_NET), n);
            for done in names[..i].iter().rev() {
                let _ = unbind_netns(done);
            }
            return Err(error);
        }
    }
    Ok(())
}

/// How many binds stacked on one name `unbind_netns` takes off at most.
const MAX_STACKED_BINDS: usize = 64;

/// Remove `/run/netns/NAME`: detach the bind mount, then the file. A missing
/// name, or a file still mounted elsewhere (busy), is an error that says so.
pub fn unbind_netns(name: &NetnsName) -> Result<()> {
    let target = name.path();
    std::fs::symlink_metadata(&target)
        .what(|| format!("cannot remove namespace file \"{}\"", target.display()))?;
    // Unmount every bind stacked on the file (a name bound twice would
    // otherwise stay busy); EINVAL: no mount left, a plain file.
    for _ in 0..MAX_STACKED_BINDS {
        match nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(Errno::EINVAL) => break,
            Err(errno) => {
                return Err(Error::os(
                    format!("cannot unmount namespace file \"{}\"", target.display()),
                    errno,
                ))
            }
        }
    }
    std::fs::remove_file(&target)
        .what(|| format!("cannot remove namespace file \"{}\"", target.display()))
        .map_err(|e| match e.errno() {
            // A bind inherited from a more privileged mount namespace is
            // locked: umount2 refuses it (EINVAL) and the file stays busy.
            Some(Errno::EBUSY) => e.hinted(
                "still mounted: the bind belongs to a more privileged mount namespace, delete it there",
            ),
            _ => e,
        })
}

/// The entries of `/run/netns` in directory order (what `ip netns list`
/// walks); none when the directory does not exist.
pub fn list_netns() -> Result<Vec<OsString>> {
    let dir = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).what(|| format!("cannot open {NETNS_RUN_DIR}")),
    };
    let mut names = Vec::new();
    for entry in dir {
        let entry = entry.what(|| format!("cannot read {NETNS_RUN_DIR}"))?;
        names.push(entry.file_name());
    }
    Ok(names)
}

/// The (device, inode) pair that identifies a namespace file's namespace.
pub fn ns_identity(path: &Path) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(path).what(|| format!("cannot stat {}", path.display()))?;
    Ok((meta.dev(), meta.ino()))
}

/// Which network namespace a command means: a name in `/run/netns`, a path
/// to a namespace file, `pid:PID`, or `-` for the caller's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsRef {
    Own,
    Pid(i32),
    Path(PathBuf),
    Name(NetnsName),
}

impl NetnsRef {
    /// Parse a designator: `-`, `pid:PID`, anything with a `/` (a path), else
    /// a name.
    pub fn parse(word: &str) -> Result<NetnsRef> {
        if word == "-" {
            return Ok(NetnsRef::Own);
        }
        if let Some(pid) = word.strip_prefix("pid:") {
            return match pid.parse::<i32>() {
                Ok(n) if n > 0 && pid.bytes().all(|b| b.is_ascii_digit()) => Ok(NetnsRef::Pid(n)),
                _ => Err(Error::invalid(
                    format!("invalid namespace '{word}'"),
                    "expected pid:PID with a positive PID",
                )),
            };
        }
        if word.contains('/') {
            return Ok(NetnsRef::Path(PathBuf::from(word)));
        }
        NetnsName::new(OsStr::new(word)).map(NetnsRef::Name)
    }

    /// The file that names the namespace.
    pub fn path(&self) -> PathBuf {
        match self {
            NetnsRef::Own => PathBuf::from("/proc/self/ns/net"),
            NetnsRef::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
            NetnsRef::Path(p) => p.clone(),
            NetnsRef::Name(n) => n.path(),
        }
    }

    /// Open the namespace; a file that is not a network namespace is refused.
    pub fn open(&self) -> Result<NsFile> {
        let path = self.path();
        let file = NsFile::open(&path).map_err(|e| match (e.errno(), self) {
            (Some(Errno::ENOENT), NetnsRef::Name(n)) => Error::invalid(
                format!("network namespace '{n}'"),
                "no such namespace (not in /run/netns)",
            ),
            _ => e,
        })?;
        if file.kind() != NsKind::Net {
            return Err(Error::invalid(
                path.display().to_string(),
                format!("a {} namespace, not a network namespace", file.kind()),
            ));
        }
        Ok(file)
    }

    /// A short label for the namespace, used to name interfaces after it.
    pub fn label(&self) -> String {
        match self {
            NetnsRef::Own => "host".into(),
            NetnsRef::Pid(pid) => format!("pid{pid}"),
            NetnsRef::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "ns".into()),
            NetnsRef::Name(n) => n.to_string(),
        }
    }
}

impl std::fmt::Display for NetnsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsRef::Own => f.write_str("-"),
            NetnsRef::Pid(pid) => write!(f, "pid:{pid}"),
            NetnsRef::Path(p) => write!(f, "{}", p.display()),
            NetnsRef::Name(n) => write!(f, "{n}"),
        }
    }
}

#[cfg(test)]
mod netns_tests {
    use super::*;

    fn name(s: &str) -> Result<NetnsName> {
        NetnsName::new(OsStr::new(s))
    }

    #[test]
    fn a_name_is_one_path_component() {
        assert!(name("blue").is_ok());
        assert!(name("a.b-c_d:e").is_ok());
        assert!(name(&"x".repeat(255)).is_ok());
        for bad in ["", ".", "..", "a/b", "/", "../x", "a\0b"] {
            assert!(name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(name(&"x".repeat(256)).is_err());
        assert_eq!(name("blue").unwrap().path(), Path::new("/run/netns/blue"));
    }

    #[test]
    fn designators_parse_in_every_form() {
        assert_eq!(NetnsRef::parse("-").unwrap(), NetnsRef::Own);
        assert_eq!(NetnsRef::parse("pid:42").unwrap(), NetnsRef::Pid(42));
        assert!(NetnsRef::parse("pid:0").is_err());
        assert!(NetnsRef::parse("pid:-1").is_err());
        assert!(NetnsRef::parse("pid:+1").is_err());
        assert!(NetnsRef::parse("pid:x").is_err());
        assert_eq!(
            NetnsRef::parse("/proc/1/ns/net").unwrap(),
            NetnsRef::Path(PathBuf::from("/proc/1/ns/net"))
        );
        assert_eq!(
            NetnsRef::parse("ns1").unwrap().path(),
            Path::new("/run/netns/ns1")
        );
        assert!(NetnsRef::parse("..").is_err());
        assert!(NetnsRef::parse("").is_err());
    }
}

/// What `ip netns exec` does after entering the namespace, so that programs
/// see it as their own: a private mount namespace (nothing leaks back), a
/// `/sys` of the new network namespace, and `/etc/netns/NAME/FILE` bound over
/// `/etc/FILE`. Binds that fail are returned, not fatal (iproute2 warns and
/// goes on).
pub fn isolate_mounts_for(name: Option<&NetnsName>) -> Result<Vec<Error>> {
    let mut set = super::ns::NsSet::empty();
    set.insert(NsKind::Mnt);
    super::ns::unshare(set).map_err(|e| e.with_what("cannot unshare the mount namespace"))?;
    // Slave, not private: mounts made later on the host still reach us.
    nix::mount::mount(
        Some(""),
        "/",
        Some("none"),
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .what(|| "cannot make / a slave mount".into())?;
    remount_sys()?;
    let mut warnings = Vec::new();
    if let Some(name) = name {
        let dir = Path::new(NETNS_ETC_DIR).join(name.as_os_str());
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let src = entry.path();
                let dst = Path::new("/etc").join(entry.file_name());
                if let Err(e) = mount::bind(&src, &dst) {
                    warnings.push(e.with_what(format!(
                        "bind {} -> {} failed",
                        src.display(),
                        dst.display()
                    )));
                }
            }
        }
    }
    Ok(warnings)
}

/// Mount a sysfs of the current network namespace on `/sys`. When the old
/// one cannot be unmounted (locked in a user namespace) the new one covers
/// it, read-only if the old one was (a read-only mount cannot be shadowed
/// read-write).
fn remount_sys() -> Result<()> {
    let mut flags = MsFlags::empty();
    if nix::mount::umount2("/sys", nix::mount::MntFlags::MNT_DETACH).is_err() {
        if let Ok(st) = nix::sys::statvfs::statvfs("/sys") {
            if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
                flags |= MsFlags::MS_RDONLY;
            }
        }
    }
    nix::mount::mount(Some("sysfs"), "/sys", Some("sysfs"), flags, None::<&str>)
        .what(|| "mount of /sys failed".into())
}

/// Events in `/run/netns`: a name added or deleted.
#[derive(Debug)]
pub struct NetnsWatch {
    fd: std::os::fd::OwnedFd,
}

/// One change in `/run/netns`.
#[derive(Debug, PartialEq, Eq)]
pub enum NetnsEvent {
    Added(OsString),
    Deleted(OsString),
}

impl NetnsWatch {
    /// Watch `/run/netns` with inotify (creating the directory if needed).
    pub fn open() -> Result<NetnsWatch> {
        use std::os::fd::FromRawFd;
        let _ = std::fs::create_dir_all(NETNS_RUN_DIR);
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        let raw = Errno::result(raw).what(|| "inotify_init failed".into())?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let dir = std::ffi::CString::new(NETNS_RUN_DIR).expect("no NUL in a constant");
        // SAFETY: inotify_add_watch reads the NUL-terminated path we pass.
        let rc = unsafe {
            libc::inotify_add_watch(raw, dir.as_ptr(), libc::IN_CREATE | libc::IN_DELETE)
        };
        Errno::result(rc).what(|| format!("inotify_add_watch on {NETNS_RUN_DIR} failed"))?;
        Ok(NetnsWatch { fd })
    }

    /// Block until something changes; return what did.
    pub fn next_events(&mut self) -> Result<Vec<NetnsEvent>> {
        let mut buf = vec![0u8; 4096];
        let n = loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("cannot read inotify events", e)),
            }
        };
        let mut out = Vec::new();
        let mut rest = &buf[..n];
        // struct inotify_event: wd i32, mask u32, cookie u32, len u32, name[len].
        while rest.len() >= 16 {
            let mask = u32::from_ne_bytes([rest[4], rest[5], rest[6], rest[7]]);
            let len = u32::from_ne_bytes([rest[12], rest[13], rest[14], rest[15]]) as usize;
            let Some(raw) = rest.get(16..16 + len) else {
                break;
            };
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let name = OsStr::from_bytes(&raw[..end]).to_os_string();
            if mask & libc::IN_CREATE != 0 {
                out.push(NetnsEvent::Added(name));
            } else if mask & libc::IN_DELETE != 0 {
                out.push(NetnsEvent::Deleted(name));
            }
            rest = &rest[16 + len..];
        }
        Ok(out)
    }
}

/// Whether `path` is a namespace file (nsfs), not a plain file.
pub fn is_namespace_file(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, NSFS_MAGIC};
    statfs(path).is_ok_and(|fs| fs.filesystem_type() == NSFS_MAGIC)
}
