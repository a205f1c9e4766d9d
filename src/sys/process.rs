//! Processes: fork, exec, wait, and what a child's end means for ours.

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
        if self.errno == Errno::ENOENT {
            127
        } else {
            126
        }
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

/// The user's shell: `$SHELL`, else `/bin/sh` (what util-linux runs when no
/// program is given).
pub fn default_shell() -> OsString {
    match std::env::var_os("SHELL") {
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
    Errno::result(rc)
        .map(drop)
        .what(|| "prctl(PR_SET_PDEATHSIG) failed".into())
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
