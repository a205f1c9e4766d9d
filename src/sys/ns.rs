//! Namespace kinds, namespace files, and the three calls that use them:
//! `unshare(2)` (create), `setns(2)` (enter) and the nsfs ioctls (inspect).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::Pid;

use super::{Error, OsContext, Result};

/// `CLONE_NEWTIME` (Linux 5.6), spelled here so older libc crates still build.
pub const CLONE_NEWTIME: libc::c_int = 0x0000_0080;

/// nsfs ioctls (linux/nsfs.h): `_IO(0xb7, N)`.
const NSIO: u8 = 0xb7;
const NS_GET_USERNS: u8 = 0x1;
const NS_GET_PARENT: u8 = 0x2;
const NS_GET_NSTYPE: u8 = 0x3;
const NS_GET_OWNER_UID: u8 = 0x4;

/// One of the eight kinds of Linux namespace.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NsKind {
    Mnt,
    Uts,
    Ipc,
    Net,
    Pid,
    User,
    Cgroup,
    Time,
}

impl NsKind {
    /// All kinds, in the order nsenter(1) enters them (user first, mount last
    /// but one, so that `/proc` paths resolve until the mount changes).
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Time,
    ];

    /// The `CLONE_NEW*` flag of this kind.
    pub fn flag(self) -> libc::c_int {
        match self {
            NsKind::Mnt => libc::CLONE_NEWNS,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => CLONE_NEWTIME,
        }
    }

    /// The kind whose `CLONE_NEW*` flag (as NS_GET_NSTYPE returns it) is `flag`.
    pub fn from_flag(flag: libc::c_int) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.flag() == flag)
    }

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::Mnt => "mnt",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// The file under `/proc/PID/ns/` that names the namespace a process's
    /// children will be in: differs from `proc_name` for PID and time
    /// namespaces, which apply to children only.
    pub fn children_proc_name(self) -> &'static str {
        match self {
            NsKind::Pid => "pid_for_children",
            NsKind::Time => "time_for_children",
            other => other.proc_name(),
        }
    }

    /// The long option name util-linux uses (`--mount`, `--net`, ...).
    pub fn option_name(self) -> &'static str {
        match self {
            NsKind::Mnt => "mount",
            other => other.proc_name(),
        }
    }

    /// The short option letter util-linux uses (`-m`, `-U`, ...).
    pub fn letter(self) -> char {
        match self {
            NsKind::Mnt => 'm',
            NsKind::Uts => 'u',
            NsKind::Ipc => 'i',
            NsKind::Net => 'n',
            NsKind::Pid => 'p',
            NsKind::User => 'U',
            NsKind::Cgroup => 'C',
            NsKind::Time => 'T',
        }
    }

    /// Parse a kind from either spelling users write: `mnt` or `mount`,
    /// `net` or `network`, and the other proc names.
    pub fn parse(word: &str) -> Option<NsKind> {
        match word {
            "mnt" | "mount" => Some(NsKind::Mnt),
            "uts" => Some(NsKind::Uts),
            "ipc" => Some(NsKind::Ipc),
            "net" | "network" => Some(NsKind::Net),
            "pid" => Some(NsKind::Pid),
            "user" => Some(NsKind::User),
            "cgroup" => Some(NsKind::Cgroup),
            "time" => Some(NsKind::Time),
            _ => None,
        }
    }
}

impl fmt::Display for NsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// A set of namespace kinds, as the `CLONE_NEW*` flags of one call.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NsSet(libc::c_int);

impl NsSet {
    pub const fn empty() -> Self {
        NsSet(0)
    }

    pub fn insert(&mut self, kind: NsKind) {
        self.0 |= kind.flag();
    }

    pub fn remove(&mut self, kind: NsKind) {
        self.0 &= !kind.flag();
    }

    pub fn contains(self, kind: NsKind) -> bool {
        self.0 & kind.flag() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn flags(self) -> libc::c_int {
        self.0
    }

    /// The kinds in the set, in `NsKind::ALL` order.
    pub fn kinds(self) -> impl Iterator<Item = NsKind> {
        NsKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl FromIterator<NsKind> for NsSet {
    fn from_iter<I: IntoIterator<Item = NsKind>>(iter: I) -> Self {
        let mut set = NsSet::empty();
        for kind in iter {
            set.insert(kind);
        }
        set
    }
}

/// `unshare(2)`: move the calling process into new namespaces of these kinds.
pub fn unshare(kinds: NsSet) -> Result<()> {
    // SAFETY: unshare takes flags only and touches no memory of ours.
    let rc = unsafe { libc::unshare(kinds.flags()) };
    Errno::result(rc).map(drop).what(|| "unshare failed".into())
}

/// An open namespace file (nsfs), with the kind the kernel says it is.
#[derive(Debug)]
pub struct NsFile {
    fd: OwnedFd,
    kind: NsKind,
    inode: u64,
    path: PathBuf,
}

impl NsFile {
    /// Open a namespace file and ask the kernel what kind it is; a file that
    /// is not on nsfs is refused by name.
    pub fn open(path: &Path) -> Result<NsFile> {
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .what(|| format!("cannot open {}", path.display()))?;
        NsFile::from_fd(fd, path)
    }

    /// Take an already-open fd (e.g. inherited) as a namespace file.
    pub fn from_fd(fd: OwnedFd, path: &Path) -> Result<NsFile> {
        let kind = kind_of(fd.as_fd()).map_err(|e| match e.errno() {
            Some(Errno::ENOTTY) | Some(Errno::EINVAL) => {
                Error::invalid(path.display().to_string(), "not a namespace file")
            }
            _ => e.with_what(format!(
                "cannot get the namespace type of {}",
                path.display()
            )),
        })?;
        let st = fstat(fd.as_fd()).what(|| format!("cannot stat {}", path.display()))?;
        Ok(NsFile {
            fd,
            kind,
            inode: st.st_ino,
            path: path.to_path_buf(),
        })
    }

    /// `/proc/PID/ns/KIND` of a process (`None`: this process).
    pub fn of_process(pid: Option<Pid>, kind: NsKind) -> Result<NsFile> {
        NsFile::open(&proc_ns_path(pid, kind.proc_name()))
    }

    /// Open `KIND` relative to an open `/proc/PID` directory, so that a reused
    /// PID cannot substitute another process.
    pub fn of_proc_dir(proc_dir: BorrowedFd<'_>, kind: NsKind) -> Result<NsFile> {
        let rel = format!("ns/{}", kind.proc_name());
        let fd = nix::fcntl::openat(
            proc_dir,
            rel.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .what(|| format!("cannot open {rel}"))?;
        NsFile::from_fd(fd, Path::new(&rel))
    }

    pub fn kind(&self) -> NsKind {
        self.kind
    }

    pub fn inode(&self) -> u64 {
        self.inode
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `setns(2)` into this namespace.
    pub fn enter(&self) -> Result<()> {
        setns(self.fd.as_fd(), self.kind.flag()).what(|| {
            format!(
                "reassociate to namespace '{}' failed",
                self.kind.proc_name()
            )
        })
    }

    /// The user namespace that owns this namespace (NS_GET_USERNS).
    pub fn owner_userns(&self) -> Result<NsFile> {
        let fd = ns_ioctl_fd(self.fd.as_fd(), NS_GET_USERNS).what(|| {
            format!(
                "cannot get the owning user namespace of {}",
                self.path.display()
            )
        })?;
        NsFile::from_fd(fd, Path::new("owning user namespace"))
    }

    /// The parent of a user or PID namespace (NS_GET_PARENT).
    pub fn parent(&self) -> Result<NsFile> {
        let fd = ns_ioctl_fd(self.fd.as_fd(), NS_GET_PARENT)
            .what(|| format!("cannot get the parent namespace of {}", self.path.display()))?;
        NsFile::from_fd(fd, Path::new("parent namespace"))
    }

    /// The uid (in the caller's user namespace) that created this user namespace.
    pub fn owner_uid(&self) -> Result<u32> {
        let mut uid: libc::uid_t = 0;
        // SAFETY: NS_GET_OWNER_UID writes one uid_t to the pointer we pass.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                io(NS_GET_OWNER_UID) as _,
                &mut uid as *mut libc::uid_t,
            )
        };
        Errno::result(rc).what(|| format!("cannot get the owner of {}", self.path.display()))?;
        Ok(uid)
    }
}

impl AsFd for NsFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `/proc/PID/ns/NAME`, or `/proc/self/ns/NAME`.
pub fn proc_ns_path(pid: Option<Pid>, name: &str) -> PathBuf {
    match pid {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/ns/{name}")),
        None => PathBuf::from(format!("/proc/self/ns/{name}")),
    }
}

/// The inode of a namespace file (what `readlink /proc/PID/ns/KIND` shows).
pub fn inode_of(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.ino())
        .what(|| format!("cannot stat {}", path.display()))
}

/// Ask nsfs what kind of namespace an fd refers to (NS_GET_NSTYPE, Linux 4.11).
pub fn kind_of(fd: BorrowedFd<'_>) -> Result<NsKind> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the CLONE_NEW* flag.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), io(NS_GET_NSTYPE) as _) };
    let flag = Errno::result(rc).what(|| "NS_GET_NSTYPE failed".into())?;
    NsKind::from_flag(flag)
        .ok_or_else(|| Error::invalid("NS_GET_NSTYPE", format!("unknown namespace type {flag:#x}")))
}

/// `setns(2)`: `nstype` is one CLONE_NEW* flag for an nsfs fd, or several for a pidfd.
pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> nix::Result<()> {
    // SAFETY: setns takes an fd and flags; no memory is shared.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), nstype) };
    Errno::result(rc).map(drop)
}

/// A process held by a pidfd (Linux 5.3), so that its PID cannot be reused
/// under us between lookup and use.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: Pid,
}

impl PidFd {
    /// `pidfd_open(2)`.
    pub fn open(pid: Pid) -> Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        let raw = Errno::result(rc).what(|| format!("cannot open process {pid}"))?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) };
        Ok(PidFd { fd, pid })
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the process is still running (a signal 0 through the pidfd).
    pub fn is_alive(&self) -> bool {
        // SAFETY: pidfd_send_signal with signal 0 only checks the target.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                0,
                std::ptr::null::<u8>(),
                0,
            )
        };
        rc == 0
    }

    /// Enter several namespaces of the process at once: `setns(pidfd, flags)`
    /// (Linux 5.8) is all-or-nothing, so a process that exits half way cannot
    /// leave us in a mix of namespaces.
    pub fn enter(&self, kinds: NsSet) -> Result<()> {
        setns(self.fd.as_fd(), kinds.flags())
            .what(|| format!("cannot enter the namespaces of process {}", self.pid))
    }

    /// Send a signal through the pidfd.
    pub fn send_signal(&self, sig: libc::c_int) -> Result<()> {
        // SAFETY: pidfd_send_signal with a null siginfo sends a plain signal.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<u8>(),
                0,
            )
        };
        Errno::result(rc)
            .map(drop)
            .what(|| format!("cannot signal process {}", self.pid))
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn io(nr: u8) -> libc::c_ulong {
    // _IO(type, nr): no direction, no size.
    ((NSIO as libc::c_ulong) << 8) | nr as libc::c_ulong
}

fn ns_ioctl_fd(fd: BorrowedFd<'_>, nr: u8) -> nix::Result<OwnedFd> {
    // SAFETY: NS_GET_USERNS / NS_GET_PARENT take no argument and return a new fd.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), io(nr) as _) };
    let raw = Errno::result(rc)?;
    // SAFETY: the kernel returned a fresh fd that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Attempts `renew_mount_ns` makes before it gives up.
pub const MOUNT_NS_RETRIES: u32 = 16;

/// Make our mount namespace again, pinned to one CPU, after the kernel refused
/// to bind it with EINVAL. Since 6.18 mount-namespace ids come from per-CPU
/// batches, and the loop check in do_loopback() assumes a newer namespace has
/// a larger id than the one holding the target file: a namespace that got a
/// smaller id (often one made on another CPU) is refused. Returns false once
/// `attempt` exceeds `MOUNT_NS_RETRIES`.
pub fn renew_mount_ns(attempt: u32) -> Result<bool> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    if attempt > MOUNT_NS_RETRIES {
        return Ok(false);
    }
    let me = Pid::from_raw(0);
    let old = sched_getaffinity(me).what(|| "sched_getaffinity failed".into())?;
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| old.is_set(c).unwrap_or(false))
        .collect();
    if let Some(&cpu) = cpus.get(attempt as usize % cpus.len().max(1)) {
        let mut one = CpuSet::new();
        let _ = one.set(cpu);
        let _ = sched_setaffinity(me, &one);
    }
    let mut set = NsSet::empty();
    set.insert(NsKind::Mnt);
    let result = unshare(set);
    let _ = sched_setaffinity(me, &old);
    result.map(|()| true)
}

/// The id of a mount namespace (NS_GET_MNTNS_ID, Linux 6.8): ids grow with
/// creation order, within one CPU's batch at least.
pub fn mount_ns_id(ns: &NsFile) -> Result<u64> {
    // _IOR(0xb7, 0x5, __u64)
    const NS_GET_MNTNS_ID: libc::c_ulong =
        (2 << 30) | (8 << 16) | ((NSIO as libc::c_ulong) << 8) | 0x5;
    let mut id: u64 = 0;
    // SAFETY: NS_GET_MNTNS_ID writes one u64 to the pointer we pass.
    let rc = unsafe { libc::ioctl(ns.fd.as_raw_fd(), NS_GET_MNTNS_ID as _, &mut id as *mut u64) };
    Errno::result(rc).what(|| format!("cannot get the id of {}", ns.path.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_flag_and_names() {
        for kind in NsKind::ALL {
            assert_eq!(NsKind::from_flag(kind.flag()), Some(kind));
            assert_eq!(NsKind::parse(kind.proc_name()), Some(kind));
            assert_eq!(NsKind::parse(kind.option_name()), Some(kind));
        }
        assert_eq!(NsKind::parse("bogus"), None);
    }

    #[test]
    fn flags_are_distinct() {
        let all: NsSet = NsKind::ALL.into_iter().collect();
        assert_eq!(all.kinds().count(), 8);
        assert_eq!(all.flags().count_ones(), 8);
    }

    #[test]
    fn own_namespaces_open_with_the_right_kind() {
        for kind in NsKind::ALL {
            let f = NsFile::of_process(None, kind).unwrap();
            assert_eq!(f.kind(), kind);
            assert_eq!(
                f.inode(),
                inode_of(&proc_ns_path(None, kind.proc_name())).unwrap()
            );
        }
    }

    #[test]
    fn a_regular_file_is_not_a_namespace_file() {
        let err = NsFile::open(Path::new("/proc/self/status")).unwrap_err();
        assert_eq!(err.to_string(), "/proc/self/status: not a namespace file");
    }
}
