//! Processes: fork, spawn, exec, wait, and what a child's end means for ours.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{self, ForkResult, Pid};

use super::{Error, OsContext, Result};

/// How a command ended, as our own process must end to pass it on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal: we die of the same one so the shell sees 128+N.
    Signal(Signal),
}

impl Exit {
    pub const SUCCESS: Exit = Exit::Code(0);
    pub const FAILURE: Exit = Exit::Code(1);

    /// The end that a wait status records, or `None` for a stop/continue.
    pub fn from_wait(status: WaitStatus) -> Option<Exit> {
        match status {
            WaitStatus::Exited(_, code) => Some(Exit::Code(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Exit::Signal(sig)),
            _ => None,
        }
    }

    /// The status a shell would report for this end (128+N for a signal).
    pub fn shell_status(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(sig) => 128 + sig as i32,
        }
    }
}

/// End this process as `exit` says: with its code, or by dying of its signal.
pub fn exit_like(exit: Exit) -> ! {
    if let Exit::Signal(sig) = exit {
        die_of(sig);
    }
    let code = match exit {
        Exit::Code(code) => code,
        Exit::Signal(_) => unreachable!(),
    };
    std::process::exit(code)
}

fn die_of(sig: Signal) {
    // Restore the default action (a handler or SIG_IGN would keep us alive),
    // then unblock and raise the signal. Core dumps are not ours to make.
    if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
        // SAFETY: SIG_DFL installs no Rust code as a handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    }
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let _ = signal::raise(sig);
    // A signal whose default is to be ignored (e.g. SIGWINCH, SIGCHLD)
    // cannot kill us: report it the way a shell would.
    std::process::exit(128 + sig as i32)
}

/// A failed execvp(3): 127 when the command is not found, 126 when it
/// cannot be executed (as POSIX shells and util-linux do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    pub program: OsString,
    pub errno: Errno,
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        exec_status(self.errno as libc::c_int)
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to execute {}: {}",
            self.program.to_string_lossy(),
            self.errno.desc()
        )
    }
}

impl std::error::Error for ExecError {}

/// `execvp(3)`: replace this process with `argv[0]`, searched on PATH.
/// Returns only on failure.
pub fn exec(argv: &[OsString]) -> ExecError {
    let program = argv.first().cloned().unwrap_or_default();
    let cargs: std::result::Result<Vec<CString>, _> =
        argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(cargs) = cargs else {
        return ExecError {
            program,
            errno: Errno::EINVAL,
        };
    };
    let Some(first) = cargs.first() else {
        return ExecError {
            program,
            errno: Errno::ENOENT,
        };
    };
    let errno = unistd::execvp(first, &cargs).unwrap_err();
    ExecError { program, errno }
}

/// Like `exec`, but with `argv0` as the name the program sees (a login
/// shell's `-sh`, for instance).
pub fn exec_as(path: &OsStr, argv0: &OsStr, args: &[OsString]) -> ExecError {
    let mut argv = vec![argv0.to_os_string()];
    argv.extend(args.iter().cloned());
    let program = path.to_os_string();
    let Ok(cpath) = CString::new(path.as_bytes()) else {
        return ExecError {
            program,
            errno: Errno::EINVAL,
        };
    };
    let cargs: std::result::Result<Vec<CString>, _> =
        argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(cargs) = cargs else {
        return ExecError {
            program,
            errno: Errno::EINVAL,
        };
    };
    let errno = unistd::execvp(&cpath, &cargs).unwrap_err();
    ExecError { program, errno }
}

/// The name a login shell is started under (its `argv[0]`): `-` and the
/// shell's file name, as login(1) and util-linux start one.
pub fn login_name(shell: &OsStr) -> OsString {
    let name = std::path::Path::new(shell).file_name().unwrap_or(shell);
    let mut argv0 = OsString::from("-");
    argv0.push(name);
    argv0
}

/// The user's shell: `$SHELL`, else `/bin/sh` (what util-linux runs when no
/// program is given).
pub fn default_shell() -> OsString {
    shell_from(std::env::var_os("SHELL"))
}

/// `default_shell` for an environment whose `SHELL` is `value`.
pub fn shell_from(value: Option<OsString>) -> OsString {
    match value {
        Some(s) if !s.is_empty() => s,
        _ => OsString::from("/bin/sh"),
    }
}

/// Signals that `--forward-signals` passes to the child. SIGTSTP and
/// SIGCONT are handled apart: they stop and continue the pair together.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// How the parent treats signals while it waits for its child.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// util-linux: SIGINT and SIGTERM are held off (the terminal already
    /// sends them to the child, which shares our process group).
    Shield,
    /// Pass `FORWARDED` on to the child, and stop/continue with it.
    Forward,
}

/// Signals held blocked between fork and the child's exit.
fn wait_mask(mode: WaitMode) -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if mode == WaitMode::Forward {
        for sig in FORWARDED {
            set.add(sig);
        }
        set.add(Signal::SIGCHLD);
        set.add(Signal::SIGTSTP);
        set.add(Signal::SIGCONT);
    }
    set
}

/// A forked child, seen from the parent.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    mode: WaitMode,
    old_mask: SigSet,
}

/// `fork(2)` with the parent's signal plan in place: returns `Some(child)`
/// in the parent, `None` in the child (whose signal mask is restored).
pub fn fork(mode: WaitMode) -> Result<Option<Child>> {
    let mut old_mask = SigSet::empty();
    signal::sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&wait_mask(mode)),
        Some(&mut old_mask),
    )
    .what(|| "sigprocmask block failed".into())?;
    // SAFETY: the binary is single-threaded (DESIGN.md), so the child may run
    // any code, not only async-signal-safe calls.
    match unsafe { unistd::fork() } {
        Ok(ForkResult::Parent { child }) => Ok(Some(Child {
            pid: child,
            mode,
            old_mask,
        })),
        Ok(ForkResult::Child) => {
            signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None)
                .what(|| "sigprocmask restore failed".into())?;
            Ok(None)
        }
        Err(errno) => {
            let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            Err(Error::os("fork failed", errno))
        }
    }
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Wait until the child ends, treating signals as the mode says.
    pub fn wait(self) -> Result<Exit> {
        let exit = match self.mode {
            WaitMode::Shield => self.wait_shielded(),
            WaitMode::Forward => self.wait_forwarding(),
        }?;
        // Held-off signals that arrived meanwhile are dropped, as util-linux does.
        Ok(exit)
    }

    fn wait_shielded(&self) -> Result<Exit> {
        loop {
            match waitpid(self.pid, None) {
                Ok(status) => {
                    if let Some(exit) = Exit::from_wait(status) {
                        return Ok(exit);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Error::os("waitpid failed", errno)),
            }
        }
    }

    fn wait_forwarding(&self) -> Result<Exit> {
        let mask = wait_mask(WaitMode::Forward);
        loop {
            // The child may have ended before we first wait: check before sleeping.
            if let Some(exit) = self.reap()? {
                return Ok(exit);
            }
            let sig = mask.wait().what(|| "sigwait failed".into())?;
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGTSTP => {
                    let _ = signal::kill(self.pid, Signal::SIGTSTP);
                }
                Signal::SIGCONT => {
                    let _ = signal::kill(self.pid, Signal::SIGCONT);
                }
                other => {
                    let _ = signal::kill(self.pid, other);
                }
            }
        }
    }

    /// Collect the child's end if it has one; a stop of the child stops us
    /// too, and our continuation continues it.
    fn reap(&self) -> Result<Option<Exit>> {
        let flags = WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED;
        loop {
            match waitpid(self.pid, Some(flags)) {
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(WaitStatus::Stopped(_, _)) => {
                    // Show our job control the same state: stop, and when
                    // continued, continue the child.
                    let _ = signal::raise(Signal::SIGSTOP);
                    let _ = signal::kill(self.pid, Signal::SIGCONT);
                }
                Ok(status) => {
                    if let Some(exit) = Exit::from_wait(status) {
                        return Ok(Some(exit));
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Error::os("waitpid failed", errno)),
            }
        }
    }

    /// The parent's signal mask from before the fork.
    pub fn restore_mask(&self) {
        let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

/// `prctl(PR_SET_PDEATHSIG)`: have the kernel send `sig` to us when our
/// parent dies.
pub fn set_parent_death_signal(sig: Signal) -> Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    Errno::result(rc).map(drop).what(|| PDEATHSIG_WHAT.into())
}

/// Parse a signal as kill(1) accepts it: `KILL`, `SIGKILL`, `kill`, or `9`.
pub fn parse_signal(word: &str) -> Option<Signal> {
    if let Ok(n) = word.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = word.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_map_to_exits() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            Exit::from_wait(WaitStatus::Exited(pid, 7)),
            Some(Exit::Code(7))
        );
        assert_eq!(
            Exit::from_wait(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(Exit::Signal(Signal::SIGKILL))
        );
        assert_eq!(
            Exit::from_wait(WaitStatus::Stopped(pid, Signal::SIGSTOP)),
            None
        );
        assert_eq!(Exit::from_wait(WaitStatus::Continued(pid)), None);
        assert_eq!(Exit::from_wait(WaitStatus::StillAlive), None);
    }

    #[test]
    fn signal_deaths_look_like_128_plus_n_to_a_shell() {
        assert_eq!(Exit::Signal(Signal::SIGKILL).shell_status(), 137);
        assert_eq!(Exit::Code(3).shell_status(), 3);
    }

    #[test]
    fn exec_errors_choose_126_or_127() {
        let e = ExecError {
            program: "x".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(e.exit_code(), 127);
        let e = ExecError {
            program: "x".into(),
            errno: Errno::EACCES,
        };
        assert_eq!(e.exit_code(), 126);
        assert_eq!(e.to_string(), "failed to execute x: Permission denied");
    }

    #[test]
    fn the_cgroup2_mount_is_found_and_unescaped() {
        let hybrid = "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro\n\
                      31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_in(hybrid),
            Some(std::path::PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let spaced = "31 30 0:27 / /a\\040b rw shared:1 - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount_in(spaced),
            Some(std::path::PathBuf::from("/a b"))
        );
        assert_eq!(cgroup2_mount_in("garbage\n - \n"), None);
        assert_eq!(unescape_octal("\\999\\1"), b"\\999\\1".to_vec());
    }

    #[test]
    fn exec_candidates_follow_execvp() {
        let names = |file: &[u8]| {
            let (c, searched, refused) = exec_candidates(file);
            let c: Vec<String> = c.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            (c, searched, refused)
        };
        assert_eq!(names(b"./x"), (vec!["./x".to_string()], false, None));
        assert_eq!(names(b""), (vec![], false, Some(Errno::ENOENT)));
        assert_eq!(
            names(&[b'a'; 255]),
            (vec![], true, Some(Errno::ENAMETOOLONG))
        );
        let (c, searched, refused) = names(b"true");
        assert!(searched && refused.is_none() && !c.is_empty());
        assert!(
            c.iter().all(|c| c.ends_with("/true") || c == "true"),
            "{c:?}"
        );
    }

    #[test]
    fn signals_parse_in_every_spelling() {
        assert_eq!(parse_signal("KILL"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("sigterm"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1"), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal(""), None);
    }
}

/// An open `/proc/PID` directory. Files opened through it belong to that
/// process even if its PID is later reused (the open fails instead).
#[derive(Debug)]
pub struct ProcDir {
    fd: std::os::fd::OwnedFd,
    path: std::path::PathBuf,
}

impl ProcDir {
    /// Open `/proc/PID`, or `/proc/self` for `None`.
    pub fn open(pid: Option<Pid>) -> Result<ProcDir> {
        use nix::fcntl::{open, OFlag};
        let path = match pid {
            Some(pid) => std::path::PathBuf::from(format!("/proc/{pid}")),
            None => std::path::PathBuf::from("/proc/self"),
        };
        let fd = open(
            &path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| if e == Errno::ENOENT { Errno::ESRCH } else { e })
        .what(|| format!("cannot open {}", path.display()))?;
        Ok(ProcDir { fd, path })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl std::os::fd::AsFd for ProcDir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Block until the other end of a pipe is closed: how a forked child waits
/// for its parent to finish the steps that must come before the program.
pub fn wait_gate(gate: std::os::fd::OwnedFd) {
    let mut buf = [0u8; 1];
    loop {
        match unistd::read(&gate, &mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

impl Child {
    /// Kill the child (it must not run the program) and reap it.
    pub fn kill(self) {
        let _ = signal::kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
        self.restore_mask();
    }
}

/// What environment the program gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvPlan {
    clear: bool,
    keep: Vec<String>,
}

impl EnvPlan {
    /// `clear`: pass nothing on, except the names in `keep` (comma-separated,
    /// which also implies `clear`).
    pub fn new(clear: bool, keep: Option<&str>) -> EnvPlan {
        let keep: Vec<String> = keep
            .map(|k| {
                k.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        EnvPlan {
            clear: clear || !keep.is_empty(),
            keep,
        }
    }

    /// Whether the program gets less than our whole environment.
    pub fn clears(&self) -> bool {
        self.clear
    }

    /// Change our own environment so that exec passes on what the plan says.
    pub fn apply(&self) {
        if !self.clear {
            return;
        }
        let names: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
        for name in names {
            if !self.keep.iter().any(|k| OsStr::new(k) == name) {
                // Single-threaded (DESIGN.md), so changing the environment is sound.
                std::env::remove_var(&name);
            }
        }
    }
}

/// Where the cgroup v2 hierarchy is mounted, from a mountinfo text (the
/// first `cgroup2` mount; `/sys/fs/cgroup` on a pure v2 system,
/// `/sys/fs/cgroup/unified` on a hybrid one). Octal escapes in the mount
/// point (`\040` for a space) are decoded.
pub fn cgroup2_mount_in(mountinfo: &str) -> Option<std::path::PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        let point = left.split(' ').nth(4).filter(|p| !p.is_empty())?;
        Some(std::path::PathBuf::from(OsString::from_vec(
            unescape_octal(point),
        )))
    })
}

fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if v <= 255 {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Move this process into the cgroup v2 group `path` (as `/proc/PID/cgroup`
/// names it: absolute, from the hierarchy's root).
pub fn join_cgroup(path: &std::path::Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .what(|| "cannot read /proc/self/mountinfo".into())?;
    let root = cgroup2_mount_in(&info)
        .ok_or_else(|| Error::invalid("cgroup2", "no cgroup v2 hierarchy is mounted"))?;
    let procs = root
        .join(path.strip_prefix("/").unwrap_or(path))
        .join("cgroup.procs");
    std::fs::write(&procs, format!("{}\n", std::process::id()))
        .what(|| format!("cannot join cgroup {}", procs.display()))
}

/// A program's start planned in full beforehand, for a child that shares our
/// memory: what glibc's posix_spawn(3) does, for the few steps the
/// children of `unshare -f` and of nsenter make before exec.
///
/// `spawn` makes the child with clone(2) `CLONE_VM | CLONE_VFORK | SIGCHLD`
/// on a stack of its own (mmap'd, with a guard page below it): the child
/// runs in our memory and page tables, and we sleep until it has called
/// execve(2) or `_exit(2)`. A fork(2) would copy our page tables for the
/// child and then make both processes fault in, and copy on write, the
/// pages each touches before the exec (bench/10-unshare.sh: 90 + 26 page
/// faults until exec against 34 + 8 for a C program); here there is nothing
/// to copy and the child touches only its stack.
///
/// The price is that the child may do only what is safe in a process that
/// shares every byte of memory with its parent: what it writes, the parent
/// finds on its return from clone, and the parent's allocator, stdio and
/// Rust's locks must find their state as they left it. So the child makes
/// raw system calls over data prepared here, the same discipline as a
/// signal handler's (async-signal-safe calls only). Every C string, argv
/// and envp array and candidate path of the PATH search is built by
/// `Spawn`'s constructors and methods; the child (`spawn_child`) allocates
/// nothing, takes no lock, uses no Rust I/O, cannot panic (no checked
/// indexing, no unwrap) and never returns: it ends in execve(2) or
/// `_exit(2)`. What it writes is the errno in our thread-local storage
/// (which it shares; we read it only for a failed clone, when no child
/// ran), slot 1 of the script argv, and a failure record. A step that
/// fails writes (step, errno) into that record and the child `_exit`s with
/// the status the fork path would end with (1, or 126/127 for exec);
/// `spawn` returns the record, and `error` words it as the fork path words
/// the same failure.
///
/// Signals: all are blocked from before the clone until the child's last
/// step before execve, which restores the mask the program must inherit
/// (the one we had before `spawn`). So no signal is delivered to the child
/// while it runs on shared memory. This binary installs no signal handlers
/// (`main` is `no_main`: not even Rust's SIGSEGV guard), so the dispositions
/// the child inherits are SIG_DFL or SIG_IGN and no code of ours can run as
/// a handler in it, even after the unblock; execve then resets handled
/// signals in any case. (If a handler is ever installed, reset it to
/// SIG_DFL in the child before the unblock, as posix_spawn does.)
///
/// The kernel refuses `CLONE_VM` into a different time namespace (the
/// vDSO's clock data differ): a plan with a new time namespace must fork.
#[derive(Debug)]
pub struct Spawn {
    /// The name an exec failure is reported under (`ExecError::program`).
    program: OsString,
    /// Owners of the C strings the pointer arrays below point into.
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    /// `/bin/sh PATH ARG...`: execvp's retry of a file the kernel does not
    /// recognise (ENOEXEC) as a shell script; slot 1 is the candidate's
    /// path, written by the child.
    script_argv: Vec<*const libc::c_char>,
    /// Where execve is tried, in order: the PATH search done in advance.
    candidates: Vec<CString>,
    /// Whether the candidates came from a PATH search (errors other than
    /// EACCES, ENOENT, ESTALE, ENOTDIR, ENODEV, ETIMEDOUT end it; EACCES
    /// is reported if seen) or the program was a path.
    searched: bool,
    /// A failure execvp would report without trying (a name too long).
    refused: Option<Errno>,
    death_signal: Option<(Signal, Pid)>,
    mounts: Vec<super::mount::MountCall>,
    /// The name execvp searches for (`file`), kept to search again on
    /// another PATH (`environment`).
    file: Vec<u8>,
    /// The program's environment, when not ours: owners of the
    /// `NAME=VALUE` strings, and the envp array over them.
    env_strings: Vec<CString>,
    envp: Option<Vec<*const libc::c_char>>,
    /// setgroups(0, NULL), and whether EPERM is tolerated (a user
    /// namespace that denies setgroups).
    clear_groups: Option<bool>,
    gid: Option<u32>,
    uid: Option<u32>,
}

/// Which of the child's steps failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SpawnStep {
    /// prctl(PR_SET_PDEATHSIG).
    ParentDeathSignal,
    /// Raising the death signal when the parent had already gone.
    Raise,
    /// The `i`th mount call, in the order they were added.
    Mount(usize),
    /// setgroups(2) with no groups.
    ClearGroups,
    /// setgid(2).
    SetGid,
    /// setuid(2).
    SetUid,
    /// Restoring the signal mask before exec.
    SignalMask,
    /// execve of the program (every candidate).
    Exec,
}

/// A failed step of a spawned child, and its errno.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SpawnFailure {
    pub step: SpawnStep,
    pub errno: Errno,
}

/// A spawned child's failure, as the fork path would report it.
#[derive(Debug)]
pub enum SpawnError {
    /// One of the steps before the program.
    Setup(Error),
    /// The program could not be executed (126 or 127).
    Exec(ExecError),
}

/// The record the child writes and the parent reads, shared through
/// CLONE_VM. `step` 0 is "no failure".
#[repr(C)]
struct FailureRecord {
    step: libc::c_int,
    index: libc::c_int,
    errno: libc::c_int,
}

const STEP_NONE: libc::c_int = 0;
const STEP_PDEATHSIG: libc::c_int = 1;
const STEP_RAISE: libc::c_int = 2;
const STEP_MOUNT: libc::c_int = 3;
const STEP_MASK: libc::c_int = 4;
const STEP_EXEC: libc::c_int = 5;
const STEP_SETGROUPS: libc::c_int = 6;
const STEP_SETGID: libc::c_int = 7;
const STEP_SETUID: libc::c_int = 8;

/// The child's whole view of the plan: raw pointers into memory the parent
/// keeps alive (and still) until the child has exec'd or exited.
#[repr(C)]
struct ChildPlan {
    argv: *const *const libc::c_char,
    script_argv: *mut *const libc::c_char,
    envp: *const *const libc::c_char,
    candidates: *const *const libc::c_char,
    candidate_count: usize,
    searched: bool,
    refused: libc::c_int,
    death_signal: libc::c_int,
    parent: libc::pid_t,
    mounts: *const ChildMount,
    mount_count: usize,
    /// 0: no setgroups; 1: setgroups; 2: setgroups, EPERM tolerated.
    clear_groups: libc::c_int,
    /// -1 (no id can be) when the id is left as it is.
    gid: libc::c_long,
    uid: libc::c_long,
    mask: *const libc::sigset_t,
    failure: *mut FailureRecord,
}

#[repr(C)]
struct ChildMount {
    source: *const libc::c_char,
    target: *const libc::c_char,
    fstype: *const libc::c_char,
    flags: libc::c_ulong,
    tolerated: libc::c_int,
}

/// The child's stack: its own pages, so that the parent's frame, frozen
/// mid-call, is not overwritten. Mount, prctl and execve need little;
/// glibc's posix_spawn gives its child 32 KiB plus argv.
const SPAWN_STACK: usize = 64 * 1024;

/// glibc's `_PATH_BSHELL`, the shell execvp(3) runs a script without `#!` with.
const BSHELL: &std::ffi::CStr = c"/bin/sh";

/// glibc's `_CS_PATH`: execvp's search path when PATH is unset.
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// glibc's execvp(3) limits: NAME_MAX for the file, PATH_MAX for a candidate.
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;

impl Spawn {
    /// Plan `exec(argv)`: `argv[0]` searched on PATH as execvp(3) does.
    /// `None` when an argument holds a NUL byte or argv is empty (the fork
    /// path reports those).
    pub fn exec(argv: &[OsString]) -> Option<Spawn> {
        let program = argv.first()?.clone();
        Spawn::plan(program.clone(), &program, argv)
    }

    /// Plan `exec_as(path, argv0, args)`: `path` searched as execvp does,
    /// the program seeing `argv0` as its name.
    pub fn exec_as(path: &OsStr, argv0: &OsStr, args: &[OsString]) -> Option<Spawn> {
        let mut argv = vec![argv0.to_os_string()];
        argv.extend(args.iter().cloned());
        Spawn::plan(path.to_os_string(), path, &argv)
    }

    fn plan(program: OsString, file: &OsStr, argv: &[OsString]) -> Option<Spawn> {
        let strings: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()).ok())
            .collect::<Option<_>>()?;
        let file = file.as_bytes();
        if file.contains(&0) {
            return None;
        }
        let mut argv_ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut script_argv = vec![BSHELL.as_ptr(), std::ptr::null()];
        script_argv.extend_from_slice(&argv_ptrs[1..]);
        let (candidates, searched, refused) = exec_candidates(file);
        let file = file.to_vec();
        Some(Spawn {
            program,
            _strings: strings,
            argv: argv_ptrs,
            script_argv,
            candidates,
            searched,
            refused,
            death_signal: None,
            mounts: Vec::new(),
            file,
            env_strings: Vec::new(),
            envp: None,
            clear_groups: None,
            gid: None,
            uid: None,
        })
    }

    /// `--kill-child`: PR_SET_PDEATHSIG with `sig`, and `sig` raised at
    /// once if the parent (`parent`, as we see it) is already gone.
    pub fn parent_death_signal(&mut self, sig: Signal, parent: Pid) {
        self.death_signal = Some((sig, parent));
    }

    /// A mount(2) call the child makes, after the death signal, in the
    /// order added; returns its index in `SpawnStep::Mount`.
    pub fn mount(&mut self, call: super::mount::MountCall) -> usize {
        self.mounts.push(call);
        self.mounts.len() - 1
    }

    /// The program's environment: `vars` instead of ours, its PATH
    /// searched (or execvp's default when it has none), as execvp(3) does
    /// after the environment is replaced. `None` when a name or value holds
    /// a NUL byte.
    pub fn environment(&mut self, vars: &[(OsString, OsString)]) -> Option<()> {
        let strings: Vec<CString> = vars
            .iter()
            .map(|(k, v)| {
                let mut entry = k.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                CString::new(entry).ok()
            })
            .collect::<Option<_>>()?;
        let mut envp: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        envp.push(std::ptr::null());
        let path = vars.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v);
        let (candidates, searched, refused) =
            exec_candidates_on(&self.file, path.map(|p| p.as_bytes()));
        self.candidates = candidates;
        self.searched = searched;
        self.refused = refused;
        self.env_strings = strings;
        self.envp = Some(envp);
        Some(())
    }

    /// Drop the supplementary groups (setgroups(2) with none), after the
    /// mounts; with `in_userns`, EPERM (a user namespace that denies
    /// setgroups) leaves them as they are, as `creds::clear_groups_in_userns`.
    pub fn clear_groups(&mut self, in_userns: bool) {
        self.clear_groups = Some(in_userns);
    }

    /// setgid(2), after the groups.
    pub fn set_gid(&mut self, gid: u32) {
        self.gid = Some(gid);
    }

    /// setuid(2), after the gid.
    pub fn set_uid(&mut self, uid: u32) {
        self.uid = Some(uid);
    }

    /// Start the child with the parent's signal plan of `fork(mode)` in
    /// place. Returns when the child has exec'd or exited: the child, and
    /// the step that failed if it exited before the program (it then
    /// exits 1, or 126/127 for exec, and must still be waited for).
    pub fn spawn(&mut self, mode: WaitMode) -> Result<(Child, Option<SpawnFailure>)> {
        let stack = SpawnStack::map()?;
        let mounts: Vec<ChildMount> = self
            .mounts
            .iter()
            .map(|m| ChildMount {
                source: m.source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                target: m.target.as_ptr(),
                fstype: m.fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                flags: m.flags,
                tolerated: m.tolerated.map_or(0, |e| e as libc::c_int),
            })
            .collect();
        let candidates: Vec<*const libc::c_char> =
            self.candidates.iter().map(|c| c.as_ptr()).collect();
        let mut failure = FailureRecord {
            step: STEP_NONE,
            index: 0,
            errno: 0,
        };
        // Block everything: no handler may run in the child while it shares
        // our memory, nor in us before the wait mask is in place.
        let mut old_mask = SigSet::empty();
        signal::sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old_mask),
        )
        .what(|| "sigprocmask block failed".into())?;
        let old: &libc::sigset_t = old_mask.as_ref();
        extern "C" {
            static environ: *const *const libc::c_char;
        }
        // A change of the effective ids makes the kernel mark the *memory*
        // non-dumpable (commit_creds: set_dumpable on the mm), which the
        // child shares with us until its exec: our own credentials do not
        // change, so our flag is put back afterwards.
        let changes_ids = self.gid.is_some() || self.uid.is_some();
        // SAFETY: PR_GET_DUMPABLE takes no arguments.
        let dumpable =
            changes_ids.then(|| unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) });
        let mut plan = ChildPlan {
            argv: self.argv.as_ptr(),
            script_argv: self.script_argv.as_mut_ptr(),
            envp: match &self.envp {
                Some(envp) => envp.as_ptr(),
                // SAFETY: reading the pointer; nothing changes the environment
                // between here and the child's exec (single-threaded).
                None => unsafe { environ },
            },
            candidates: candidates.as_ptr(),
            candidate_count: candidates.len(),
            searched: self.searched,
            refused: self.refused.map_or(0, |e| e as libc::c_int),
            death_signal: self.death_signal.map_or(0, |(s, _)| s as libc::c_int),
            parent: self.death_signal.map_or(0, |(_, p)| p.as_raw()),
            mounts: mounts.as_ptr(),
            mount_count: mounts.len(),
            clear_groups: match self.clear_groups {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            },
            gid: self.gid.map_or(-1, libc::c_long::from),
            uid: self.uid.map_or(-1, libc::c_long::from),
            mask: old,
            failure: &mut failure,
        };
        // SAFETY: the child runs `spawn_child` on its own stack over `plan`,
        // whose pointers stay valid: CLONE_VFORK suspends us, keeping every
        // borrowed buffer alive and unchanged, until the child has exec'd
        // (its memory is then its own) or exited. `spawn_child` makes only
        // raw system calls (see its SAFETY notes) and never returns.
        let rc = unsafe {
            libc::clone(
                spawn_child,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut plan as *mut ChildPlan).cast(),
            )
        };
        let clone_errno = Errno::last();
        drop(stack);
        if let Some(before) = dumpable.filter(|&d| d >= 0) {
            // SAFETY: PR_GET_DUMPABLE takes no arguments.
            if unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } != before {
                // SAFETY: PR_SET_DUMPABLE takes 0 or 1, as PR_GET_DUMPABLE gave it.
                unsafe { libc::prctl(libc::PR_SET_DUMPABLE, before as libc::c_ulong, 0, 0, 0) };
            }
        }
        let mut held = old_mask;
        for sig in wait_mask(mode).iter() {
            held.add(sig);
        }
        let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&held), None);
        if rc < 0 {
            let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            return Err(Error::os("fork failed", clone_errno));
        }
        // SAFETY: the child has exec'd or exited: nothing writes the record now.
        let record = unsafe { std::ptr::read_volatile(&failure) };
        let child = Child {
            pid: Pid::from_raw(rc),
            mode,
            old_mask,
        };
        let errno = Errno::from_raw(record.errno);
        let step = match record.step {
            STEP_PDEATHSIG => SpawnStep::ParentDeathSignal,
            STEP_RAISE => SpawnStep::Raise,
            STEP_MOUNT => SpawnStep::Mount(record.index as usize),
            STEP_SETGROUPS => SpawnStep::ClearGroups,
            STEP_SETGID => SpawnStep::SetGid,
            STEP_SETUID => SpawnStep::SetUid,
            STEP_MASK => SpawnStep::SignalMask,
            STEP_EXEC => SpawnStep::Exec,
            _ => return Ok((child, None)),
        };
        Ok((child, Some(SpawnFailure { step, errno })))
    }

    /// A failure of the child, worded as the fork path words it.
    pub fn error(&self, failure: SpawnFailure) -> SpawnError {
        let errno = failure.errno;
        SpawnError::Setup(match failure.step {
            SpawnStep::ParentDeathSignal => Error::os(PDEATHSIG_WHAT, errno),
            SpawnStep::Raise => Error::os("raise failed", errno),
            SpawnStep::Mount(i) => match self.mounts.get(i) {
                Some(call) => call.error(errno),
                None => Error::os("mount failed", errno),
            },
            // The words of `creds::clear_groups`, `set_gid`, `set_uid`.
            SpawnStep::ClearGroups => Error::os("setgroups failed", errno),
            SpawnStep::SetGid => Error::os("setgid failed", errno),
            SpawnStep::SetUid => Error::os("setuid failed", errno),
            SpawnStep::SignalMask => Error::os("sigprocmask restore failed", errno),
            SpawnStep::Exec => {
                return SpawnError::Exec(ExecError {
                    program: self.program.clone(),
                    errno,
                })
            }
        })
    }
}

const PDEATHSIG_WHAT: &str = "prctl(PR_SET_PDEATHSIG) failed";

/// Where execvp(3) (glibc 2.36's `__execvpe_common`) would try to execute
/// `file`: itself if it holds a slash, else each PATH element joined with it
/// (an empty element meaning the current directory). Also whether a search
/// was made, and the errno execvp fails with before trying anything.
pub fn exec_candidates(file: &[u8]) -> (Vec<CString>, bool, Option<Errno>) {
    exec_candidates_on(
        file,
        std::env::var_os("PATH").as_ref().map(|p| p.as_bytes()),
    )
}

/// `exec_candidates` with `path` as PATH (`None`: unset). Neither can hold
/// a NUL byte where they come from (a C string, an environment value): one
/// that does gives no candidate and EINVAL. Public for the fuzzer.
pub fn exec_candidates_on(file: &[u8], path: Option<&[u8]>) -> (Vec<CString>, bool, Option<Errno>) {
    if file.contains(&0) || path.is_some_and(|p| p.contains(&0)) {
        return (Vec::new(), false, Some(Errno::EINVAL));
    }
    if file.is_empty() {
        return (Vec::new(), false, Some(Errno::ENOENT));
    }
    let as_c = |bytes: Vec<u8>| CString::new(bytes).expect("checked for NUL bytes");
    if file.contains(&b'/') {
        return (vec![as_c(file.to_vec())], false, None);
    }
    let path = path.unwrap_or(DEFAULT_PATH);
    let path_len = path.len().min(PATH_MAX - 1) + 1;
    let file_len = file.len().min(NAME_MAX) + 1;
    if file_len > NAME_MAX || path_len + file_len + 1 > PATH_MAX {
        return (Vec::new(), true, Some(Errno::ENAMETOOLONG));
    }
    let candidates = path
        .split(|&b| b == b':')
        .filter(|dir| dir.len() < path_len)
        .map(|dir| {
            let mut c = dir.to_vec();
            if !dir.is_empty() {
                c.push(b'/');
            }
            c.extend_from_slice(file);
            as_c(c)
        })
        .collect();
    (candidates, true, None)
}

/// A mmap'd stack for the spawned child, with a PROT_NONE guard page below
/// it so that an overflow faults instead of writing over our heap.
struct SpawnStack {
    base: *mut libc::c_void,
    len: usize,
}

impl SpawnStack {
    fn map() -> Result<SpawnStack> {
        let page = 4096;
        let len = SPAWN_STACK + page;
        // SAFETY: a new private anonymous mapping; no memory of ours is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::os("mmap of a stack failed", Errno::last()));
        }
        let stack = SpawnStack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(Error::os("mprotect of a stack guard failed", Errno::last()));
        }
        Ok(stack)
    }

    /// The stack's start (it grows down), 16-byte aligned as the ABI needs.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, which is page-aligned.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for SpawnStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping, no longer used: the child has exec'd or exited.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Record a failed step and end the child with `code`.
///
/// # Safety
/// `plan.failure` must be valid for writes (it is: the parent's record).
unsafe fn child_fail(plan: &ChildPlan, step: libc::c_int, index: usize, code: libc::c_int) -> ! {
    let errno = *libc::__errno_location();
    std::ptr::write_volatile(
        plan.failure,
        FailureRecord {
            step,
            index: index as libc::c_int,
            errno,
        },
    );
    libc::_exit(code)
}

/// The spawned child: each step of the plan, then execve over the
/// candidates, as execvp(3) does. Never returns.
///
/// Why each step is safe here: getppid, getpid (as raw system calls),
/// kill, setgid, setuid, sigprocmask (these four as raw system calls too),
/// execve and `_exit` are on signal-safety(7)'s list of async-signal-safe
/// functions; prctl(2) and mount(2) are Linux system calls whose glibc
/// wrappers only pass their arguments on and set errno, and setgroups(2)
/// is made as the raw system call. The rest is reads of the parent's plan and
/// writes to the failure record and the script argv's slot. errno, which
/// these set, lives in the parent's thread-local storage, which the
/// suspended parent does not read until we are gone (as with glibc's
/// posix_spawn). No allocation, no lock, no panic: a panic would run the
/// hook and write to stderr through Rust's locks in shared memory.
extern "C" fn spawn_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildPlan` the parent built and keeps alive
    // (suspended by CLONE_VFORK); every pointer in it is valid as the
    // field's comment says, and every array has the length given.
    unsafe {
        let plan = &*(arg as *const ChildPlan);
        if plan.death_signal != 0 {
            let sig = plan.death_signal as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0 {
                child_fail(plan, STEP_PDEATHSIG, 0, 1);
            }
            // The parent may have died before the request took effect
            // (getppid 0: PID 1 of a new PID namespace, which cannot tell).
            // The signal is blocked here: it is delivered, as in the fork
            // path, when the mask is restored below.
            let ppid = libc::getppid();
            if ppid != plan.parent
                && ppid != 0
                && libc::syscall(libc::SYS_kill, libc::syscall(libc::SYS_getpid), sig) != 0
            {
                child_fail(plan, STEP_RAISE, 0, 1);
            }
        }
        for i in 0..plan.mount_count {
            let m = &*plan.mounts.add(i);
            if libc::mount(m.source, m.target, m.fstype, m.flags, std::ptr::null()) != 0
                && (m.tolerated == 0 || *libc::__errno_location() != m.tolerated)
            {
                child_fail(plan, STEP_MOUNT, i, 1);
            }
        }
        // Credentials, in the order of a forked child (nsenter's
        // switch_ids): raw system calls, not glibc's setgid/setuid, which
        // would try to change every thread of the process they think they
        // are in (glibc's posix_spawn uses the raw calls for the same
        // reason). They change the child's credentials only.
        if plan.clear_groups != 0
            && libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) != 0
            && (plan.clear_groups != 2 || *libc::__errno_location() != libc::EPERM)
        {
            child_fail(plan, STEP_SETGROUPS, 0, 1);
        }
        if plan.gid >= 0 && libc::syscall(libc::SYS_setgid, plan.gid) != 0 {
            child_fail(plan, STEP_SETGID, 0, 1);
        }
        if plan.uid >= 0 && libc::syscall(libc::SYS_setuid, plan.uid) != 0 {
            child_fail(plan, STEP_SETUID, 0, 1);
        }
        // The raw system call: glibc's wrapper is thin too, but this one
        // certainly touches nothing but its arguments. The kernel's sigset
        // is 64 bits.
        if libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            plan.mask,
            std::ptr::null_mut::<libc::sigset_t>(),
            8usize,
        ) != 0
        {
            child_fail(plan, STEP_MASK, 0, 1);
        }
        if plan.refused != 0 {
            *libc::__errno_location() = plan.refused;
            child_fail(plan, STEP_EXEC, 0, exec_status(plan.refused));
        }
        let mut saw_eacces = false;
        *libc::__errno_location() = libc::ENOENT;
        for i in 0..plan.candidate_count {
            let path = *plan.candidates.add(i);
            libc::execve(path, plan.argv, plan.envp);
            let mut errno = *libc::__errno_location();
            if errno == libc::ENOEXEC {
                // execvp: a file the kernel cannot run is a shell script.
                *plan.script_argv.add(1) = path;
                libc::execve(BSHELL.as_ptr(), plan.script_argv, plan.envp);
                errno = *libc::__errno_location();
            }
            if !plan.searched {
                break;
            }
            match errno {
                libc::EACCES => saw_eacces = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => break,
            }
        }
        let errno = *libc::__errno_location();
        let errno = if plan.searched
            && saw_eacces
            && matches!(
                errno,
                libc::EACCES
                    | libc::ENOENT
                    | libc::ESTALE
                    | libc::ENOTDIR
                    | libc::ENODEV
                    | libc::ETIMEDOUT
            ) {
            libc::EACCES
        } else {
            errno
        };
        *libc::__errno_location() = errno;
        child_fail(plan, STEP_EXEC, 0, exec_status(errno))
    }
}

/// The status a program that could not be executed ends with, as the shell
/// gives it: 127 when it was not found, else 126.
fn exec_status(errno: libc::c_int) -> libc::c_int {
    if errno == libc::ENOENT {
        127
    } else {
        126
    }
}
