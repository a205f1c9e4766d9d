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
        // A thread that does not lead its group needs PIDFD_THREAD (Linux
        // 6.9; the value of O_EXCL), as nsenter(1) accepts thread ids too.
        const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let mut rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        if rc < 0 && matches!(Errno::last(), Errno::EINVAL | Errno::ENOENT) {
            // SAFETY: as above.
            rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), PIDFD_THREAD) };
        }
        let raw = Errno::result(rc).what(|| format!("cannot open process {pid}"))?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) };
        Ok(PidFd { fd, pid })
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the process is still running (a signal 0 through the pidfd;
    /// EPERM means it lives but is not ours to signal).
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
        rc == 0 || Errno::last() == Errno::EPERM
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
    fn targets_are_pids_with_an_optional_inode() {
        assert_eq!(parse_target("42").unwrap(), (Pid::from_raw(42), None));
        assert_eq!(
            parse_target("42:123").unwrap(),
            (Pid::from_raw(42), Some(123))
        );
        for bad in [
            "",
            "0",
            "-1",
            "x",
            "42:",
            ":1",
            "42:x",
            "42:0",
            "2147483648",
            "1:2:3",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ns_specs_tell_paths_kinds_and_processes_apart() {
        let p = |s: &str| NsSpec::parse(std::ffi::OsStr::new(s));
        assert_eq!(p("42").unwrap(), NsSpec::Process(Pid::from_raw(42), None));
        assert_eq!(
            p("42:7").unwrap(),
            NsSpec::Process(Pid::from_raw(42), Some(7))
        );
        assert_eq!(
            p("net:/run/netns/blue").unwrap(),
            NsSpec::Kind(NsKind::Net, PathBuf::from("/run/netns/blue"))
        );
        assert_eq!(
            p("mount:/x").unwrap(),
            NsSpec::Kind(NsKind::Mnt, PathBuf::from("/x"))
        );
        assert_eq!(
            p("/run/netns/a:b").unwrap(),
            NsSpec::Path(PathBuf::from("/run/netns/a:b"))
        );
        assert_eq!(p("blue").unwrap(), NsSpec::Path(PathBuf::from("blue")));
        assert!(p("").is_err());
        assert!(p("net:").is_err());
        assert!(p("0").is_err());
    }

    #[test]
    fn status_ids_are_the_effective_ones() {
        let status = "Name:\tsleep\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\n";
        assert_eq!(parse_status_ids(status), Some((2, 6)));
        assert_eq!(parse_status_ids("Uid:\t1\n"), None);
    }

    #[test]
    fn environ_and_cgroup_lines_parse_safely() {
        let env = parse_environ(b"A=1\0=bad\0noeq\0B=x=y\0\0");
        assert_eq!(
            env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            parse_cgroup_v2("0::/user.slice/x\n"),
            Some(PathBuf::from("/user.slice/x"))
        );
        assert_eq!(parse_cgroup_v2("0::/a/../b\n"), None);
        assert_eq!(parse_cgroup_v2("1:name=systemd:/\n"), None);
    }

    #[test]
    fn a_regular_file_is_not_a_namespace_file() {
        let err = NsFile::open(Path::new("/proc/self/status")).unwrap_err();
        assert_eq!(err.to_string(), "/proc/self/status: not a namespace file");
    }
}

/// What `setns(2)` on an nsfs fd needs, worded for a user: the message
/// util-linux prints (`reassociate to namespace 'ns/net' failed`).
fn reassociate_what(kind: NsKind) -> String {
    format!("reassociate to namespace 'ns/{}' failed", kind.proc_name())
}

/// `PID` or `PID:INODE`, as `nsenter -t` and `setns-run` take a process:
/// INODE is the pidfs inode of the process (`stat` of a pidfd, Linux 6.9),
/// which no later process with the same PID can have.
pub fn parse_target(word: &str) -> Result<(Pid, Option<u64>)> {
    let (pid, inode) = match word.split_once(':') {
        Some((p, i)) => (p, Some(i)),
        None => (word, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) {
        return Err(Error::invalid(format!("'{word}'"), "not a PID"));
    }
    let pid = match pid.parse::<i32>() {
        Ok(n) if n > 0 => Pid::from_raw(n),
        _ => return Err(Error::invalid(format!("'{word}'"), "PID out of range")),
    };
    let inode = match inode {
        None => None,
        Some(i) if digits(i) => match i.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(Error::invalid(format!("'{word}'"), "inode out of range")),
        },
        Some(_) => return Err(Error::invalid(format!("'{word}'"), "not PID:INODE")),
    };
    Ok((pid, inode))
}

/// One namespace argument of `setns-run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsSpec {
    /// A namespace file whose kind the kernel tells (NS_GET_NSTYPE).
    Path(PathBuf),
    /// `KIND:PATH`: a namespace file that must be of this kind.
    Kind(NsKind, PathBuf),
    /// `PID` or `PID:INODE`: every namespace of that process.
    Process(Pid, Option<u64>),
}

impl NsSpec {
    /// Read one argument: digits (with an optional `:INODE`) are a process,
    /// `KIND:PATH` with a known kind asserts the kind, anything else is a path.
    pub fn parse(word: &std::ffi::OsStr) -> Result<NsSpec> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = word.as_bytes();
        if bytes.is_empty() {
            return Err(Error::invalid(
                "''",
                "not a namespace (a path, KIND:PATH or PID)",
            ));
        }
        if bytes[0].is_ascii_digit() && bytes.iter().all(|b| b.is_ascii_digit() || *b == b':') {
            let text = String::from_utf8_lossy(bytes);
            let (pid, inode) = parse_target(&text)?;
            return Ok(NsSpec::Process(pid, inode));
        }
        if let Some(colon) = bytes.iter().position(|b| *b == b':') {
            let prefix = String::from_utf8_lossy(&bytes[..colon]);
            if let Some(kind) = NsKind::parse(&prefix) {
                let rest = &bytes[colon + 1..];
                if rest.is_empty() {
                    return Err(Error::invalid(
                        format!("'{}'", word.to_string_lossy()),
                        "no path after the kind",
                    ));
                }
                return Ok(NsSpec::Kind(
                    kind,
                    PathBuf::from(std::ffi::OsStr::from_bytes(rest)),
                ));
            }
        }
        Ok(NsSpec::Path(PathBuf::from(word)))
    }
}

/// The pidfs inode of a pidfd (Linux 6.9); before pidfs every pidfd shares
/// the one anon inode, which cannot tell processes apart.
fn pidfd_inode(fd: BorrowedFd<'_>) -> Result<u64> {
    let st = fstat(fd).what(|| "cannot stat pidfd".into())?;
    Ok(st.st_ino)
}

impl PidFd {
    /// The pidfs inode of the process (what `PID:INODE` names).
    pub fn inode(&self) -> Result<u64> {
        pidfd_inode(self.fd.as_fd())
    }

    /// `pidfd_getfd(2)` (Linux 5.6): a copy of the process's file descriptor `fd`.
    pub fn get_fd(&self, fd: i32) -> Result<OwnedFd> {
        // SAFETY: pidfd_getfd takes a pidfd, an fd number and flags, and
        // returns a new fd.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.fd.as_raw_fd(), fd, 0) };
        let raw = Errno::result(rc)
            .what(|| format!("cannot get file descriptor {fd} of process {}", self.pid))?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) })
    }
}

/// A running process whose namespaces we mean to enter, held by a pidfd from
/// lookup to entry: files opened through its `/proc` directory are its own
/// as long as `check_alive` holds after they are opened.
#[derive(Debug)]
pub struct Target {
    pidfd: PidFd,
    proc_dir: OwnedFd,
}

impl Target {
    /// Hold process `pid` (and, given INODE, only the process with that
    /// pidfs inode).
    pub fn open(pid: Pid, inode: Option<u64>) -> Result<Target> {
        let pidfd = PidFd::open(pid).map_err(|e| match e.errno() {
            Some(Errno::ESRCH) => Error::invalid(format!("process {pid}"), "no such process"),
            _ => e,
        })?;
        if let Some(want) = inode {
            let have = pidfd.inode()?;
            if have != want {
                return Err(Error::invalid(
                    format!("process {pid}"),
                    format!(
                        "its pidfd inode is {have}, not {want}: the process with inode {want} has exited and its PID was reused"
                    ),
                ));
            }
        }
        // /proc must show our PID namespace, or /proc/PID is someone else.
        let me = std::fs::read_link("/proc/self").ok();
        if me.as_deref() != Some(Path::new(&nix::unistd::getpid().to_string())) {
            return Err(Error::invalid(
                "/proc",
                "does not show our PID namespace (mount a proc of our own)",
            ));
        }
        let path = format!("/proc/{pid}");
        let proc_dir = open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| if e == Errno::ENOENT { Errno::ESRCH } else { e })
        .what(|| format!("cannot open {path}"))?;
        let target = Target { pidfd, proc_dir };
        target.check_alive()?;
        Ok(target)
    }

    pub fn pid(&self) -> Pid {
        self.pidfd.pid()
    }

    pub fn pidfd(&self) -> &PidFd {
        &self.pidfd
    }

    /// Fail unless the process still runs: then everything opened through
    /// its `/proc` directory so far was its own.
    /// (A zombie passes; its namespaces are gone, so opening them fails and
    /// `setns(pidfd)` says ESRCH: `ns` and `EntryPlan::enter` report it.)
    pub fn check_alive(&self) -> Result<()> {
        if self.pidfd.is_alive() {
            return Ok(());
        }
        Err(Error::invalid(
            format!("process {}", self.pid()),
            "has exited",
        ))
    }

    fn is_zombie(&self) -> bool {
        // The state is the field after the parenthesised command name.
        match self.read("stat") {
            Ok(stat) => {
                let text = String::from_utf8_lossy(&stat);
                let state = text.rsplit_once(')').map(|(_, rest)| rest.trim_start());
                matches!(state.and_then(|s| s.chars().next()), Some('Z') | Some('X'))
            }
            Err(_) => true,
        }
    }

    /// Open a file under the process's `/proc` directory.
    pub fn open_at(&self, rel: &str, flags: OFlag) -> Result<OwnedFd> {
        nix::fcntl::openat(
            self.proc_dir.as_fd(),
            rel,
            flags | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .what(|| format!("cannot open /proc/{}/{rel}", self.pid()))
    }

    /// Read a whole file under the process's `/proc` directory.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        let fd = self.open_at(rel, OFlag::O_RDONLY)?;
        let mut buf = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut buf)
            .what(|| format!("cannot read /proc/{}/{rel}", self.pid()))?;
        Ok(buf)
    }

    /// The process's namespace of `kind`; `None` when the kernel lacks the kind.
    pub fn ns(&self, kind: NsKind) -> Result<Option<NsFile>> {
        let rel = format!("ns/{}", kind.proc_name());
        match nix::fcntl::openat(
            self.proc_dir.as_fd(),
            rel.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                let path = format!("/proc/{}/{rel}", self.pid());
                NsFile::from_fd(fd, Path::new(&path)).map(Some)
            }
            Err(Errno::ENOENT) => {
                // An exited (zombie) process has no namespaces left to open.
                if !self.pidfd.is_alive() || self.is_zombie() {
                    return Err(Error::invalid(
                        format!("process {}", self.pid()),
                        "has exited",
                    ));
                }
                if Path::new("/proc/self").join(&rel).exists() {
                    Err(Error::os(
                        format!("cannot open /proc/{}/{rel}", self.pid()),
                        Errno::ENOENT,
                    ))
                } else {
                    Ok(None)
                }
            }
            Err(e) => Err(Error::os(
                format!("cannot open /proc/{}/{rel}", self.pid()),
                e,
            )),
        }
    }

    /// The owner of the process (the uid and gid of its `/proc` directory,
    /// as seen from our user namespace).
    pub fn owner(&self) -> Result<(u32, u32)> {
        let st =
            fstat(self.proc_dir.as_fd()).what(|| format!("cannot stat /proc/{}", self.pid()))?;
        Ok((st.st_uid, st.st_gid))
    }

    /// The process's effective uid and gid, as the user namespace we are in
    /// now sees them (procfs maps them for the reader at open time).
    pub fn ids(&self) -> Result<(u32, u32)> {
        let status = self.read("status")?;
        parse_status_ids(&String::from_utf8_lossy(&status)).ok_or_else(|| {
            Error::invalid(format!("/proc/{}/status", self.pid()), "no Uid/Gid lines")
        })
    }

    /// The network namespace of the process's socket `fd` (pidfd_getfd,
    /// then SIOCGSKNS, Linux 5.6).
    pub fn socket_netns(&self, fd: i32) -> Result<NsFile> {
        const SIOCGSKNS: libc::c_ulong = 0x894C;
        let sock = self.pidfd.get_fd(fd)?;
        // SAFETY: SIOCGSKNS takes no argument and returns a new nsfs fd.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGSKNS as _) };
        let raw = Errno::result(rc).what(|| {
            format!(
                "cannot get the network namespace of socket {fd} of process {}",
                self.pid()
            )
        })?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        let ns = unsafe { OwnedFd::from_raw_fd(raw) };
        NsFile::from_fd(
            ns,
            Path::new(&format!("socket {fd} of process {}", self.pid())),
        )
    }

    /// The process's environment (`/proc/PID/environ`), as NAME=VALUE pairs.
    pub fn environ(&self) -> Result<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
        Ok(parse_environ(&self.read("environ")?))
    }

    /// The process's cgroup v2 path (the `0::` line of `/proc/PID/cgroup`).
    pub fn cgroup(&self) -> Result<PathBuf> {
        let text = self.read("cgroup")?;
        parse_cgroup_v2(&String::from_utf8_lossy(&text)).ok_or_else(|| {
            Error::invalid(format!("/proc/{}/cgroup", self.pid()), "no cgroup v2 path")
        })
    }
}

/// The effective uid and gid (second field of the `Uid:` and `Gid:` lines)
/// of a `/proc/PID/status` text.
pub fn parse_status_ids(text: &str) -> Option<(u32, u32)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u32>().ok())
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// `/proc/PID/environ`: NUL-separated NAME=VALUE entries; entries without
/// `=` or with an empty name are dropped.
pub fn parse_environ(data: &[u8]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    use std::os::unix::ffi::OsStrExt;
    data.split(|b| *b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|b| *b == b'=')?;
            (eq > 0).then(|| {
                (
                    std::ffi::OsStr::from_bytes(&entry[..eq]).to_os_string(),
                    std::ffi::OsStr::from_bytes(&entry[eq + 1..]).to_os_string(),
                )
            })
        })
        .collect()
}

/// The cgroup v2 path from `/proc/PID/cgroup` text: absolute, without `..`
/// components (so that it cannot lead out of the cgroup mount).
pub fn parse_cgroup_v2(text: &str) -> Option<PathBuf> {
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    if !path.starts_with('/') || path.split('/').any(|c| c == ".." || c == ".") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The inodes of our own namespaces, to tell which namespaces of a target
/// we are already in.
pub fn own_inode(kind: NsKind) -> Option<u64> {
    inode_of(&proc_ns_path(None, kind.proc_name())).ok()
}

/// Where a namespace to enter comes from.
#[derive(Debug)]
pub struct Entry {
    pub file: NsFile,
    /// Taken from the target process (so `setns(pidfd)` can enter it).
    pub from_target: bool,
    /// Maybe one of our own namespaces, not checked yet: see
    /// [`EntryPlan::enter`].
    pub maybe_ours: bool,
}

impl Entry {
    /// A namespace file named by the user.
    pub fn file(file: NsFile) -> Entry {
        Entry {
            file,
            from_target: false,
            maybe_ours: false,
        }
    }

    /// A namespace of the target process.
    pub fn of_target(file: NsFile) -> Entry {
        Entry {
            file,
            from_target: true,
            maybe_ours: false,
        }
    }

    /// A namespace of the target process that is to be left out if it is
    /// one we are already in; checked only if need be.
    pub fn of_target_unless_ours(file: NsFile) -> Entry {
        Entry {
            file,
            from_target: true,
            maybe_ours: true,
        }
    }
}

/// How a plan was carried out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Entered {
    /// One `setns(pidfd, flags)`: all or nothing.
    Atomically,
    /// One `setns(fd)` per namespace file, in plan order.
    OneByOne,
}

/// The namespaces to enter, in the order to enter them.
///
/// setns(2) asks for CAP_SYS_ADMIN in the user namespace that owns each
/// namespace entered (and for a user namespace, in that namespace itself).
/// Entering a user namespace changes which namespaces we have that
/// capability over: it grants it over the namespaces that user namespace
/// owns, and takes it away over those its ancestors own. So the user
/// namespace goes first when it owns (directly or through its descendants)
/// every other namespace of the plan, and last otherwise.
#[derive(Debug)]
pub struct EntryPlan {
    entries: Vec<Entry>,
    user_first: bool,
}

impl EntryPlan {
    /// Order `entries`; two entries of one kind are refused by name.
    pub fn new(mut entries: Vec<Entry>) -> Result<EntryPlan> {
        for (i, a) in entries.iter().enumerate() {
            if let Some(b) = entries[i + 1..]
                .iter()
                .find(|b| b.file.kind() == a.file.kind())
            {
                return Err(Error::invalid(
                    format!(
                        "{} and {}",
                        a.file.path().display(),
                        b.file.path().display()
                    ),
                    format!(
                        "both are {} namespaces: give one of each kind",
                        a.file.kind()
                    ),
                ));
            }
        }
        entries.sort_by_key(|e| NsKind::ALL.iter().position(|k| *k == e.file.kind()));
        let mut plan = EntryPlan {
            entries,
            user_first: true,
        };
        if !plan.unsettled() {
            plan.settle();
        }
        Ok(plan)
    }

    /// Whether some entries may still be our own namespaces (and so the
    /// order is not decided yet).
    fn unsettled(&self) -> bool {
        self.entries.iter().any(|e| e.maybe_ours)
    }

    /// Leave out the namespaces we are already in, then decide the order.
    fn settle(&mut self) {
        self.entries
            .retain(|e| !e.maybe_ours || own_inode(e.file.kind()) != Some(e.file.inode()));
        for e in &mut self.entries {
            e.maybe_ours = false;
        }
        self.user_first = match self.entries.iter().find(|e| e.file.kind() == NsKind::User) {
            None => true,
            Some(user) => self
                .entries
                .iter()
                .filter(|e| e.file.kind() != NsKind::User)
                .all(|e| owned_within(&e.file, user.file.inode())),
        };
        if !self.user_first {
            self.entries.rotate_left(1);
        }
    }

    /// The entries in the order they are entered.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn kinds(&self) -> NsSet {
        self.entries.iter().map(|e| e.file.kind()).collect()
    }

    /// Whether the user namespace (if any) is entered first.
    pub fn user_first(&self) -> bool {
        self.user_first
    }

    /// Whether one `setns(pidfd)` can do it all: every namespace is the
    /// target's own, and the kernel's order (user namespace first) is ours.
    pub fn atomic_with(&self, target: Option<&Target>) -> bool {
        target.is_some() && self.user_first && self.entries.iter().all(|e| e.from_target)
    }

    /// Enter every namespace of the plan. Through the target's pidfd when
    /// `atomic_with` allows (all or nothing: a target that exits meanwhile
    /// leaves us where we were), else file by file; before Linux 5.8, which
    /// refuses a pidfd with EINVAL, file by file as well.
    ///
    /// A plan with entries that may be our own namespaces first tries one
    /// `setns(pidfd)` with all of them, unchecked: re-entering a namespace we
    /// are in changes nothing, and finding out which ones we are in costs a
    /// lookup in /proc each (a fifth of what `nsenter -t PID -a` takes).
    /// Only if the kernel refuses (after the target's user namespace we may
    /// have no right over our own) are ours left out and the order decided,
    /// as for any plan; nothing was entered by the refused call.
    pub fn enter(&mut self, target: Option<&Target>) -> Result<Entered> {
        if self.unsettled() {
            if let Some(t) = target.filter(|_| self.entries.iter().all(|e| e.from_target)) {
                t.check_alive()?;
                if setns(t.pidfd().as_fd(), self.kinds().flags()).is_ok() {
                    return Ok(Entered::Atomically);
                }
            }
            self.settle();
        }
        if self.entries.is_empty() {
            return Ok(Entered::OneByOne);
        }
        if let (true, Some(t)) = (self.atomic_with(target), target) {
            t.check_alive()?;
            match setns(t.pidfd().as_fd(), self.kinds().flags()) {
                Ok(()) => return Ok(Entered::Atomically),
                Err(Errno::EINVAL) if !pidfd_setns_ok() => {}
                Err(Errno::ESRCH) => {
                    return Err(Error::invalid(format!("process {}", t.pid()), "has exited"))
                }
                Err(errno) => return Err(self.explain(t, errno)),
            }
        }
        if let Some(t) = target {
            t.check_alive()?;
        }
        for e in &self.entries {
            setns(e.file.as_fd(), e.file.kind().flag()).what(|| reassociate_what(e.file.kind()))?;
        }
        Ok(Entered::OneByOne)
    }

    /// Name the namespace a failed `setns(pidfd)` stumbled on: the first
    /// one we could not enter by itself is the culprit.
    fn explain(&self, t: &Target, errno: Errno) -> Error {
        let mine = own_inode(NsKind::User);
        let culprit = match errno {
            // user_namespaces(7): a process may not enter its own user namespace.
            Errno::EINVAL => self
                .entries
                .iter()
                .find(|e| e.file.kind() == NsKind::User && Some(e.file.inode()) == mine),
            _ => self
                .entries
                .iter()
                .find(|e| holds_cap_sys_admin_over(&e.file) == Some(false))
                .or(self.entries.first()),
        };
        match culprit {
            Some(e) => Error::os(reassociate_what(e.file.kind()), errno),
            None => Error::os(
                format!("cannot enter the namespaces of process {}", t.pid()),
                errno,
            ),
        }
    }

    /// What entering `entry` needs, in capabilities(7) words.
    pub fn needs(&self, entry: &Entry) -> String {
        let owner = match entry.file.kind() {
            NsKind::User => Some(entry.file.inode()),
            _ => entry.file.owner_userns().ok().map(|u| u.inode()),
        };
        let owner = owner.map_or("its owner".to_string(), |i| format!("user:[{i}]"));
        match entry.file.kind() {
            NsKind::Mnt => {
                format!("CAP_SYS_ADMIN in {owner}; CAP_SYS_CHROOT and CAP_SYS_ADMIN here")
            }
            _ => format!("CAP_SYS_ADMIN in {owner}"),
        }
    }
}

/// Whether `ns` is owned by the user namespace with inode `userns` or by
/// one of its descendants.
fn owned_within(ns: &NsFile, userns: u64) -> bool {
    let Ok(mut cur) = ns.owner_userns() else {
        return false;
    };
    // Nesting is limited to 32 levels (user_namespaces(7)).
    for _ in 0..33 {
        if cur.inode() == userns {
            return true;
        }
        match cur.parent() {
            Ok(p) => cur = p,
            Err(_) => return false,
        }
    }
    false
}

/// Whether we hold CAP_SYS_ADMIN, now, in the user namespace whose rights
/// entering `ns` needs (its owner; for a user namespace, its parent, where
/// an owner has every right over the namespaces it created). `None`: cannot tell.
fn holds_cap_sys_admin_over(ns: &NsFile) -> Option<bool> {
    let mine = own_inode(NsKind::User)?;
    let owner = match ns.kind() {
        NsKind::User => ns.parent().ok()?,
        _ => ns.owner_userns().ok()?,
    };
    if owner.inode() == mine {
        return Some(super::creds::has_effective(super::creds::CAP_SYS_ADMIN));
    }
    // A descendant of ours: its creator holds every capability in it.
    let mut cur = owner;
    for _ in 0..33 {
        let parent = cur.parent().ok()?;
        if parent.inode() == mine {
            return Some(
                cur.owner_uid().ok() == Some(super::creds::euid())
                    || super::creds::has_effective(super::creds::CAP_SYS_ADMIN),
            );
        }
        cur = parent;
    }
    None
}

/// Whether this kernel takes a pidfd in setns(2) (Linux 5.8).
fn pidfd_setns_ok() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return true;
    };
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (5, 8)
}

/// `NS_GET_ID` (Linux 6.18): `_IOR(0xb7, 13, __u64)`.
const NS_GET_ID: libc::c_ulong = (2 << 30) | (8 << 16) | ((NSIO as libc::c_ulong) << 8) | 13;

/// `FILEID_NSFS`: the type of a namespace file handle (linux/exportfs.h).
const FILEID_NSFS: libc::c_int = 0xf1;

/// `struct file_handle` carrying a `struct nsfs_file_handle` (linux/nsfs.h).
#[repr(C)]
struct NsfsFileHandle {
    handle_bytes: u32,
    handle_type: libc::c_int,
    ns_id: u64,
    ns_type: u32,
    ns_inum: u32,
}

impl NsFile {
    /// The namespace's 64-bit id, unique for the life of the system
    /// (NS_GET_ID, Linux 6.18): what `nsenter --net=:NSID` takes.
    pub fn id(&self) -> Result<u64> {
        let mut id: u64 = 0;
        // SAFETY: NS_GET_ID writes one u64 to the pointer we pass.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), NS_GET_ID as _, &mut id as *mut u64) };
        Errno::result(rc).what(|| format!("cannot get the id of {}", self.path.display()))?;
        Ok(id)
    }

    /// Open the `kind` namespace with id `id`. Through an nsfs file handle
    /// built from the id (the kernel accepts that since after 6.18, for a
    /// caller in the namespace or privileged over its owner); where the
    /// kernel still wants the inode in the handle (ESTALE), through the
    /// namespaces that processes we can see are in.
    pub fn open_by_id(id: u64, kind: NsKind) -> Result<NsFile> {
        let name = format!(":{id}");
        match open_by_handle(id, kind) {
            Ok(fd) => return NsFile::from_fd(fd, Path::new(&name)),
            Err(Errno::ESTALE) | Err(Errno::EINVAL) | Err(Errno::EOPNOTSUPP) => {}
            Err(e) => {
                return Err(Error::os(
                    format!("cannot open the {kind} namespace with id {id}"),
                    e,
                ))
            }
        }
        let mut seen = std::collections::HashSet::new();
        let procs = std::fs::read_dir("/proc").what(|| "cannot read /proc".into())?;
        for entry in procs.flatten() {
            let pid = entry.file_name();
            if !pid.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            let path = Path::new("/proc")
                .join(&pid)
                .join("ns")
                .join(kind.proc_name());
            let Ok(ino) = inode_of(&path) else { continue };
            if !seen.insert(ino) {
                continue;
            }
            let Ok(file) = NsFile::open(&path) else {
                continue;
            };
            if file.kind() == kind && file.id().ok() == Some(id) {
                return Ok(NsFile {
                    path: PathBuf::from(name),
                    ..file
                });
            }
        }
        Err(Error::os(
            format!("cannot open the {kind} namespace with id {id}"),
            Errno::ENOENT,
        ))
    }
}

fn open_by_handle(id: u64, kind: NsKind) -> std::result::Result<OwnedFd, Errno> {
    // Any nsfs file names the (single, internal) nsfs mount.
    let anchor =
        NsFile::of_process(None, NsKind::User).map_err(|e| e.errno().unwrap_or(Errno::EIO))?;
    let mut handle = NsfsFileHandle {
        handle_bytes: 16,
        handle_type: FILEID_NSFS,
        ns_id: id,
        ns_type: kind.flag() as u32,
        ns_inum: 0,
    };
    // SAFETY: open_by_handle_at reads handle_bytes bytes of handle data
    // after the 8-byte header of the struct we pass, and returns a new fd.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            anchor.fd.as_raw_fd(),
            &mut handle as *mut NsfsFileHandle,
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    let raw = Errno::result(rc)?;
    // SAFETY: the kernel returned a fresh fd that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) })
}

/// `:NSID` as nsenter takes it in place of a file: the namespace id.
pub fn parse_ns_id(word: &str) -> Option<u64> {
    let digits = word.strip_prefix(':')?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}
