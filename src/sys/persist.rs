//! Keeping a namespace alive without a process in it: a bind mount of its
//! nsfs file (`/proc/PID/ns/KIND`) onto an ordinary file; and the
//! `/run/netns` directory of named network namespaces, laid out as iproute2
//! lays it out.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
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
/// failure gives (`StepFailure::error`): a batch's worker process reports
/// only the step and the errno, and the parent words them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetnsStep {
    /// unshare(CLONE_NEWNET).
    Unshare,
    /// stat of the new namespace (a worker reports its identity first).
    Identify,
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
            NetnsStep::Identify => Error::os(format!("cannot stat {}", source.display()), errno),
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

/// Below this many names a batch is made in order, by the caller alone.
const PARALLEL_FROM: usize = 64;
/// The fewest names a worker process is forked for.
const NAMES_PER_WORKER: usize = 32;
/// The most processes a batch is spread over.
const MAX_WORKERS: usize = 8;

/// Create a new network namespace for each name, all or none: each
/// unshare(CLONE_NEWNET) makes a fresh one and the bind keeps it alive once
/// we move on to the next; on a failure the names made so far are removed
/// and the error is that of the first name that failed, worded as making
/// the names one by one words it.
///
/// Nearly all the time goes to the kernel's setup of each namespace (its
/// sysctl tables), which runs concurrently in several processes. So a batch
/// of at least 64 distinct names, with more than one CPU usable
/// (sched_getaffinity), is split into k contiguous chunks, k = min(CPUs,
/// names/32, 8): the caller makes the first chunk and a forked worker
/// process each other one (processes: the binary stays single-threaded).
/// A worker dies with the caller (PR_SET_PDEATHSIG) and reports on one pipe
/// shared by all: before it creates a name's file, the identity (device,
/// inode) of the namespace it will bind there, and on a failure the step
/// and the errno. The caller reads the reports between its own names, stops
/// the workers whose chunk lies after a failure (closing their stop pipe:
/// the chunks before it run on, as they would have in order, so the first
/// failure is the one reported), and reaps every worker before it returns.
/// On a failure it removes its own names made and each worker's name that
/// is bound to the namespace the worker reported for it, so a name that
/// another adder bound meanwhile is never taken away, and a worker killed
/// after its bind leaves nothing bound either. (A worker killed between the
/// create and the bind leaves the file, as a killed caller does; the next
/// add says how to remove it.)
///
/// The caller is left in the last namespace it made; nothing depends on
/// that (`netns add` returns right after).
pub fn create_netns(names: &[NetnsName]) -> Result<()> {
    let workers = worker_count(names);
    if workers <= 1 {
        return create_netns_in_order(names);
    }
    create_netns_spread(names, workers)
}

/// How many processes make `names`: one below `PARALLEL_FROM` names, with
/// one usable CPU, or when a name repeats (in order, its second mention is
/// the failure, as a race between two processes would not say).
fn worker_count(names: &[NetnsName]) -> usize {
    if names.len() < PARALLEL_FROM {
        return 1;
    }
    let cpus = usable_cpus();
    if cpus <= 1 {
        return 1;
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    if !names.iter().all(|n| seen.insert(n)) {
        return 1;
    }
    cpus.min(names.len() / NAMES_PER_WORKER).min(MAX_WORKERS)
}

/// The CPUs this process may run on (sched_getaffinity(2)); 1 if unknown.
fn usable_cpus() -> usize {
    use nix::sched::{sched_getaffinity, CpuSet};
    match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => 1,
    }
}

/// The names one by one, in this process.
fn create_netns_in_order(names: &[NetnsName]) -> Result<()> {
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

/// `len` names in `k` contiguous chunks, the first ones a name longer.
fn chunks(len: usize, k: usize) -> Vec<std::ops::Range<usize>> {
    let (each, extra) = (len / k, len % k);
    let mut start = 0;
    (0..k)
        .map(|j| {
            let end = start + each + usize::from(j < extra);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// What a worker reports on the pipe. A report is one write of
/// `REPORT_LEN` bytes, below PIPE_BUF, so the kernel never interleaves two
/// workers' reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Report {
    /// About to create the file for name `index`, to bind the namespace
    /// `ns` (device, inode) there.
    Started { index: usize, ns: (u64, u64) },
    /// Making name `index` failed (nothing of it is left).
    Failed { index: usize, failure: StepFailure },
}

const REPORT_LEN: usize = 24;

impl Report {
    fn encode(self) -> [u8; REPORT_LEN] {
        let (tag, step, index, a, b) = match self {
            Report::Started { index, ns } => (b'S', 0, index, ns.0, ns.1),
            Report::Failed { index, failure } => {
                let step = match failure.step {
                    NetnsStep::Unshare => 0,
                    NetnsStep::Identify => 1,
                    NetnsStep::Create => 2,
                    NetnsStep::Bind => 3,
                };
                (b'F', step, index, failure.errno as i32 as u64, 0)
            }
        };
        let mut out = [0u8; REPORT_LEN];
        out[0] = tag;
        out[1] = step;
        out[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        out[8..16].copy_from_slice(&a.to_ne_bytes());
        out[16..24].copy_from_slice(&b.to_ne_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Report> {
        let index = u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?) as usize;
        let a = u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?);
        let c = u64::from_ne_bytes(b.get(16..24)?.try_into().ok()?);
        match b[0] {
            b'S' => Some(Report::Started { index, ns: (a, c) }),
            b'F' => {
                let step = match b[1] {
                    0 => NetnsStep::Unshare,
                    1 => NetnsStep::Identify,
                    2 => NetnsStep::Create,
                    3 => NetnsStep::Bind,
                    _ => return None,
                };
                let errno = Errno::from_raw(a as i32);
                Some(Report::Failed {
                    index,
                    failure: StepFailure { step, errno },
                })
            }
            _ => None,
        }
    }
}

/// Write one report (blocking: a full pipe waits for the parent to read).
fn send(progress: &OwnedFd, report: Report) -> nix::Result<()> {
    let bytes = report.encode();
    loop {
        match nix::unistd::write(progress, &bytes) {
            Ok(n) if n == REPORT_LEN => return Ok(()),
            Ok(_) => return Err(Errno::EIO),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether the parent closed our stop pipe (a non-blocking read: EOF).
fn stop_requested(stop: &OwnedFd) -> bool {
    let mut buf = [0u8; 1];
    !matches!(
        nix::unistd::read(stop, &mut buf),
        Err(Errno::EAGAIN) | Err(Errno::EINTR)
    )
}

/// A worker's exit statuses (besides 0, its chunk made or stopped).
const WORKER_FAILED: i32 = 1;
const WORKER_CANNOT_REPORT: i32 = 2;

/// A worker's life: make the names of `range` in order, reporting each.
fn run_worker(
    names: &[NetnsName],
    range: std::ops::Range<usize>,
    progress: &OwnedFd,
    stop: &OwnedFd,
) -> i32 {
    let source = Path::new(THREAD_SELF_NET);
    for index in range {
        if stop_requested(stop) {
            return 0;
        }
        let made = super::ns::unshare(net_only())
            .map_err(|e| StepFailure::of(NetnsStep::Unshare, &e))
            .and_then(|()| {
                ns_identity(source).map_err(|e| StepFailure::of(NetnsStep::Identify, &e))
            });
        let made = match made {
            Ok(ns) => {
                // Reported before the file exists: whatever of it a kill
                // leaves bound, the parent can find and remove.
                if send(progress, Report::Started { index, ns }).is_err() {
                    return WORKER_CANNOT_REPORT;
                }
                mknod_and_bind(source, &names[index].path())
            }
            Err(f) => Err(f),
        };
        if let Err(failure) = made {
            return match send(progress, Report::Failed { index, failure }) {
                Ok(()) => WORKER_FAILED,
                Err(_) => WORKER_CANNOT_REPORT,
            };
        }
    }
    0
}

/// A forked worker, seen from the parent.
#[derive(Debug)]
struct Worker {
    pid: nix::unistd::Pid,
    range: std::ops::Range<usize>,
    /// The write end of its stop pipe, closed to stop it.
    stop: Option<OwnedFd>,
    /// Told to stop (a name before its chunk failed).
    stopped: bool,
}

/// What a name of the batch came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Made {
    Nothing,
    /// Bound by the parent itself.
    Bound,
    /// A worker's: the namespace it reported, bound to the name unless
    /// the worker failed or was killed before its bind.
    Reported((u64, u64)),
}

/// Why a name failed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    Step(StepFailure),
    /// The worker making it ended without saying why.
    WorkerEnded(String),
}

/// The parent's side of a spread batch.
struct Spread<'a> {
    names: &'a [NetnsName],
    made: Vec<Made>,
    /// The failing name with the lowest index, and why.
    first: Option<(usize, Failure)>,
    workers: Vec<Worker>,
    /// The read end of the report pipe; `None` after EOF.
    reports: Option<OwnedFd>,
    /// Bytes of a report not yet read whole.
    partial: Vec<u8>,
}

fn create_netns_spread(names: &[NetnsName], k: usize) -> Result<()> {
    use nix::fcntl::OFlag;
    let Ok((reports, report_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return create_netns_in_order(names);
    };
    let mut spread = Spread {
        names,
        made: vec![Made::Nothing; names.len()],
        first: None,
        workers: Vec::with_capacity(k - 1),
        reports: None,
        partial: Vec::new(),
    };
    let mut chunks = chunks(names.len(), k).into_iter();
    let mut own: Vec<std::ops::Range<usize>> = chunks.next().into_iter().collect();
    for range in chunks {
        // A chunk no worker could be forked for is the parent's to make.
        match spawn_worker(
            names,
            range.clone(),
            &reports,
            &report_w,
            &mut spread.workers,
        ) {
            Ok(w) => spread.workers.push(w),
            Err(_) => own.push(range),
        }
    }
    drop(report_w);
    let _ = nix::fcntl::fcntl(&reports, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    spread.reports = Some(reports);
    'own: for range in own {
        for i in range {
            if spread.first.as_ref().is_some_and(|(f, _)| *f < i) {
                break 'own;
            }
            match make_netns(&names[i]) {
                Ok(()) => spread.made[i] = Made::Bound,
                Err(f) => spread.fail(i, Failure::Step(f)),
            }
            spread.read_reports();
        }
    }
    // Then block until every worker has closed its end of the pipe.
    if let Some(r) = &spread.reports {
        let _ = nix::fcntl::fcntl(r, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()));
    }
    while spread.reports.is_some() {
        spread.read_reports();
    }
    spread.reap();
    spread.finish()
}

/// Fork a worker for `range`. In the child: die with the parent, keep only
/// the report pipe's write end and the stop pipe's read end, make the
/// chunk, and _exit (no destructors, no stdio flush: those are the parent's).
fn spawn_worker(
    names: &[NetnsName],
    range: std::ops::Range<usize>,
    reports: &OwnedFd,
    report_w: &OwnedFd,
    others: &mut [Worker],
) -> Result<Worker> {
    use nix::fcntl::OFlag;
    use nix::unistd::{fork, ForkResult};
    let (stop_r, stop_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).what(|| "pipe failed".into())?;
    let parent = nix::unistd::getpid();
    // SAFETY: the binary is single-threaded (DESIGN.md), so the child may
    // run any code; it leaves by _exit.
    match unsafe { fork() }.what(|| "fork failed".into())? {
        ForkResult::Child => {
            let _ = super::process::set_parent_death_signal(nix::sys::signal::Signal::SIGKILL);
            // The parent may have died before the prctl: then no signal comes.
            if nix::unistd::getppid() != parent {
                // SAFETY: _exit ends the process without touching its memory.
                unsafe { libc::_exit(WORKER_CANNOT_REPORT) }
            }
            // Another worker's stop pipe held open here would never close.
            for w in others.iter_mut() {
                w.stop = None;
            }
            drop(stop_w);
            let _ = nix::unistd::close(reports.as_raw_fd());
            let code = run_worker(names, range, report_w, &stop_r);
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(Worker {
            pid: child,
            range,
            stop: Some(stop_w),
            stopped: false,
        }),
    }
}

impl Spread<'_> {
    /// Note that name `index` failed; the lowest index is the one reported,
    /// and the workers whose chunk lies after it are stopped.
    fn fail(&mut self, index: usize, failure: Failure) {
        if self.first.as_ref().is_some_and(|(f, _)| *f <= index) {
            return;
        }
        self.first = Some((index, failure));
        for w in &mut self.workers {
            if w.range.start > index {
                w.stop = None;
                w.stopped = true;
            }
        }
    }

    /// Read what the workers report until the pipe is empty (non-blocking)
    /// or closed by all of them (blocking).
    fn read_reports(&mut self) {
        let mut buf = [0u8; REPORT_LEN * 256];
        while let Some(fd) = &self.reports {
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                // Taken as EOF: the read end closes, and a worker that
                // reports again dies of SIGPIPE, a failure `reap` finds.
                Err(_) => 0,
            };
            if n == 0 {
                self.reports = None;
                return;
            }
            self.take(&buf[..n]);
        }
    }

    /// Note the whole reports in `bytes` (and keep a partial one's start).
    fn take(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let whole = self.partial.len() / REPORT_LEN * REPORT_LEN;
        let bytes: Vec<u8> = self.partial.drain(..whole).collect();
        for chunk in bytes.chunks_exact(REPORT_LEN) {
            match Report::decode(chunk) {
                Some(Report::Started { index, ns }) if index < self.made.len() => {
                    self.made[index] = Made::Reported(ns);
                }
                Some(Report::Failed { index, failure }) if index < self.made.len() => {
                    self.fail(index, Failure::Step(failure));
                }
                _ => {}
            }
        }
    }

    /// Wait for every worker to end (each has closed the report pipe, so
    /// each has ended or is ending). A worker that was not stopped and did
    /// not bind its chunk's last name, nor said why, is a failure at the
    /// name it was making. (Its end is judged by what it bound: with SIGCHLD
    /// ignored the kernel reaps it and waitpid says only ECHILD.)
    fn reap(&mut self) {
        use nix::sys::wait::{waitpid, WaitStatus};
        let mut ended = Vec::new();
        for w in &self.workers {
            let status = loop {
                match waitpid(w.pid, None) {
                    Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => break Some(s),
                    Ok(_) | Err(Errno::EINTR) => continue,
                    Err(_) => break None,
                }
            };
            if w.stopped || w.range.clone().last().is_some_and(|i| self.is_ours(i)) {
                continue;
            }
            let why = match status {
                Some(WaitStatus::Exited(_, WORKER_FAILED)) => continue,
                Some(WaitStatus::Exited(_, 0)) => "the process making it stopped early".into(),
                Some(WaitStatus::Exited(_, code)) => {
                    format!("the process making it exited with status {code}")
                }
                Some(WaitStatus::Signaled(_, sig, _)) => {
                    format!("the process making it was killed by {sig}")
                }
                _ => "the process making it ended unseen".into(),
            };
            ended.push((self.in_flight(&w.range), why));
        }
        for (at, why) in ended {
            self.fail(at, Failure::WorkerEnded(why));
        }
    }

    /// Whether name `index` is made and bound by this batch: by the parent,
    /// or by a worker to the namespace it reported for the name.
    fn is_ours(&self, index: usize) -> bool {
        match self.made[index] {
            Made::Nothing => false,
            Made::Bound => true,
            Made::Reported(ns) => ns_identity(&self.names[index].path()).is_ok_and(|id| id == ns),
        }
    }

    /// The name a worker that ended early was making: the last it reported
    /// unless that one is bound, then the next.
    fn in_flight(&self, range: &std::ops::Range<usize>) -> usize {
        let last = range
            .clone()
            .rev()
            .find(|&i| matches!(self.made[i], Made::Reported(_)));
        match last {
            None => range.start,
            Some(i) if self.is_ours(i) && i + 1 < range.end => i + 1,
            Some(i) => i,
        }
    }

    /// All made, or the first failure's error with every name we bound removed.
    fn finish(&self) -> Result<()> {
        let Some((index, failure)) = self.first.clone() else {
            return Ok(());
        };
        let name = &self.names[index];
        let error = match failure {
            Failure::Step(f) => f.error(Path::new(THREAD_SELF_NET), name),
            Failure::WorkerEnded(why) => {
                Error::invalid(format!("cannot create network namespace {name}"), why)
            }
        };
        for i in (0..self.names.len()).rev() {
            if self.is_ours(i) {
                let _ = unbind_netns(&self.names[i]);
            }
        }
        Err(error)
    }
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
    fn a_batch_splits_into_contiguous_chunks_that_cover_it() {
        assert_eq!(chunks(300, 2), vec![0..150, 150..300]);
        assert_eq!(chunks(101, 3), vec![0..34, 34..68, 68..101]);
        for (len, k) in [(64, 2), (1000, 8), (257, 7), (65, 2)] {
            let c = chunks(len, k);
            assert_eq!(c.len(), k);
            assert_eq!(c[0].start, 0);
            assert_eq!(c[k - 1].end, len);
            assert!(c.windows(2).all(|w| w[0].end == w[1].start));
            assert!(c.iter().all(|r| r.len() >= len / k));
        }
    }

    #[test]
    fn worker_reports_survive_the_pipe() {
        let reports = [
            Report::Started {
                index: 199,
                ns: (4, 0xf000_0e50),
            },
            Report::Failed {
                index: 7,
                failure: StepFailure {
                    step: NetnsStep::Create,
                    errno: Errno::EEXIST,
                },
            },
            Report::Failed {
                index: 0,
                failure: StepFailure {
                    step: NetnsStep::Bind,
                    errno: Errno::ENOSPC,
                },
            },
        ];
        for r in reports {
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        assert_eq!(Report::decode(&[0u8; REPORT_LEN]), None);
        assert_eq!(Report::decode(&[b'S'; 3]), None);
    }

    #[test]
    fn small_or_repeating_batches_are_made_in_order() {
        let names = |n: usize| -> Vec<NetnsName> {
            (0..n).map(|i| name(&format!("n{i}")).unwrap()).collect()
        };
        assert_eq!(worker_count(&names(PARALLEL_FROM - 1)), 1);
        let mut twice = names(200);
        twice[150] = twice[3].clone();
        assert_eq!(worker_count(&twice), 1);
        let k = worker_count(&names(1000));
        assert!((1..=MAX_WORKERS).contains(&k) && k <= usable_cpus());
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
