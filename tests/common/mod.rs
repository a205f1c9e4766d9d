//! The one harness: run the built binary under an applet name, as root or as
//! an unprivileged user, with a timeout, and return status, stdout, stderr.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Every applet name the binary answers to, as it lists them itself.
pub fn applets() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nstools"))
        .arg("--list")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// The unprivileged user the tests become.
pub const NOBODY: u32 = 65534;

/// A directory holding a symlink per applet to the built binary (and the
/// binary itself as `nstools`), readable by everyone.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch_root().join(format!("bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("nstools");
        let _ = std::fs::remove_file(&target);
        copy_executable(Path::new(env!("CARGO_BIN_EXE_nstools")), &target);
        for name in applets() {
            let link = dir.join(&name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("nstools", &link).unwrap();
        }
        dir
    })
}

/// The path of an applet's symlink.
pub fn applet(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A root for scratch files, world-searchable so unprivileged runs reach it.
pub fn scratch_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nstools-tests");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    let mut p = dir.as_path();
    while let Some(parent) = p.parent() {
        if parent == Path::new("/") {
            break;
        }
        // Unprivileged test runs must be able to walk to the binary.
        let _ = set_mode_add(parent, 0o111);
        p = parent;
    }
    dir
}

/// A fresh, unique scratch directory for one test (world-writable).
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = scratch_root().join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o777);
    dir
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn set_mode_add(path: &Path, bits: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | bits))
}

/// How a run ended, and what it printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code, or None when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// Panic with everything known unless the run succeeded.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "expected success, got {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panic unless `other` ended the same way and printed the same: for
    /// one command line taken by two code paths (`what` names them).
    #[track_caller]
    pub fn assert_same_as(&self, other: &Run, what: &str) -> &Self {
        assert_eq!(
            (self.code(), self.signal(), &self.stdout, &self.stderr),
            (other.code(), other.signal(), &other.stdout, &other.stderr),
            "{what} differ"
        );
        self
    }

    /// Panic unless the run exited with `code` and said `needle` on stderr.
    #[track_caller]
    pub fn assert_fails_with(&self, code: i32, needle: &str) -> &Self {
        self.assert_code(code);
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "status {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The host's uptime in seconds, as /proc/uptime gives it.
pub fn host_uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("read /proc/uptime");
    let first = text
        .split_whitespace()
        .next()
        .expect("/proc/uptime is empty");
    first.parse().expect("/proc/uptime: not a number")
}

/// The default limit on one run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Run a prepared command with a timeout, capturing output through files.
pub fn run_command(mut cmd: Command, timeout: Duration) -> Run {
    let out_dir = scratch("out");
    let (out_path, err_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let run = Run {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&out_dir);
    run
}

/// Run an applet as the current user (root in CI).
pub fn run<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Run {
    let mut cmd = Command::new(applet(name));
    cmd.args(args).env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

/// Run an applet as uid/gid 65534 with no supplementary groups.
pub fn run_as_nobody<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Run {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(applet(name))
        .args(args)
        .env("PATH", path_with_applets())
        .current_dir("/");
    run_command(cmd, TIMEOUT)
}

/// Run a shell script with the applets first on PATH.
pub fn sh(script: &str) -> Run {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", script]).env("PATH", path_with_applets());
    run_command(cmd, TIMEOUT)
}

/// Run a shell script as uid/gid 65534, the applets first on PATH.
pub fn sh_as_nobody(script: &str) -> Run {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        "bash",
        "-c",
        script,
    ])
    .env("PATH", path_with_applets())
    .current_dir("/");
    run_command(cmd, TIMEOUT)
}

/// PATH with our applets first, so a script's `unshare` is ours.
pub fn path_with_applets() -> String {
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        bin_dir().display()
    )
}

/// `readlink /proc/PID/ns/KIND` (e.g. `net:[4026531840]`).
pub fn ns_link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The host facts a test must leave as it found them.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub hostname: String,
    pub mounts: Vec<String>,
    pub netns: Vec<String>,
}

pub fn host_state() -> HostState {
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/1/mountinfo")
        .unwrap_or_default()
        .lines()
        // Mount ids and peer numbers change; what is mounted where must not.
        .map(|l| l.split(' ').skip(4).take(1).collect::<Vec<_>>().join(" "))
        .collect();
    mounts.sort();
    let mut netns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    netns.sort();
    HostState {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        mounts,
        netns,
    }
}

/// Start a long-running target (e.g. `sleep`) under `unshare` and wait until
/// it runs in its new namespaces; returns the target's PID and the guard
/// that kills it.
pub struct Target {
    pub child: std::process::Child,
    pub pid: u32,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait (bounded) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Start `unshare --fork ARGS sleep 60` (ours; as uid 65534 when `as_nobody`)
/// and return the sleeping child, waited for (bounded) until it sleeps.
pub fn start_target(args: &[&str], as_nobody: bool, env: &[(&str, &str)]) -> Target {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(applet("unshare"));
        c
    } else {
        Command::new(applet("unshare"))
    };
    cmd.arg("--fork")
        .args(args)
        .args(["sleep", "60"])
        .env("PATH", path_with_applets())
        .envs(env.iter().copied())
        .current_dir("/")
        .stdin(Stdio::null());
    let child = cmd.spawn().unwrap();
    let parent = child.id();
    let mut pid = 0;
    wait_until("the target to start", || {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        if let Some(p) = children.split_whitespace().next() {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                pid = p.parse().unwrap();
                return true;
            }
        }
        false
    });
    Target { child, pid }
}

/// Copy an executable with cp(1), not in this process: a file we hold open
/// for writing is inherited by whatever another test thread forks meanwhile,
/// and exec of the copy then fails with ETXTBSY until that child execs.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp {} {} failed",
        from.display(),
        to.display()
    );
}
