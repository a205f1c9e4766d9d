//! A helper process left behind in our original namespaces, to act there on
//! our behalf after we have unshared: bind our namespace files (a bind made
//! from inside a new mount namespace would not be seen outside) and write our
//! id maps with the privileges we had before (`unshare --owner`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{self, ForkResult, Pid};

use super::idmap::{self, IdMap, MapKind, Setgroups};
use super::persist::{self, Binding};
use super::{process, Error, OsContext, Result};

const REQ_BIND: u8 = b'B';
const REQ_UNDO: u8 = b'U';
const REQ_MAP_UID: u8 = b'u';
const REQ_MAP_GID: u8 = b'g';
const REQ_SETGROUPS_DENY: u8 = b'd';
const REQ_SETGROUPS_ALLOW: u8 = b'a';
const REQ_RUN_MAPPER: u8 = b'm';

/// The parent's handle on the helper.
#[derive(Debug)]
pub struct Outside {
    pid: Pid,
    requests: std::fs::File,
    replies: std::fs::File,
    bound: bool,
}

impl Outside {
    /// Fork the helper. It holds `/proc/<our pid>` open from the start (so it
    /// can only ever write our maps), dies with us (PR_SET_PDEATHSIG), and
    /// does nothing but what we ask.
    pub fn spawn() -> Result<Outside> {
        let parent_dir = open(
            "/proc/self",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .what(|| "cannot open /proc/self".into())?;
        let (req_r, req_w) =
            unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).what(|| "pipe failed".into())?;
        let (rep_r, rep_w) =
            unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).what(|| "pipe failed".into())?;
        // SAFETY: single-threaded binary; the child only serves requests and exits.
        match unsafe { unistd::fork() }.what(|| "fork failed".into())? {
            ForkResult::Child => {
                drop(req_w);
                drop(rep_r);
                let _ = process::set_parent_death_signal(Signal::SIGKILL);
                let code = serve(
                    parent_dir,
                    std::fs::File::from(req_r),
                    std::fs::File::from(rep_w),
                );
                // SAFETY: _exit skips the parent's atexit handlers and buffers.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Outside {
                pid: child,
                requests: std::fs::File::from(req_w),
                replies: std::fs::File::from(rep_r),
                bound: false,
            }),
        }
    }

    /// Have the helper make these bindings, all or none.
    pub fn bind(&mut self, bindings: &[Binding]) -> Result<()> {
        let mut msg = vec![REQ_BIND];
        msg.extend((bindings.len() as u32).to_ne_bytes());
        for b in bindings {
            put(&mut msg, b.source.as_os_str().as_bytes());
            put(&mut msg, b.target.as_os_str().as_bytes());
        }
        let (errno, index) = self.ask(&msg)?;
        if errno == 0 {
            self.bound = true;
            return Ok(());
        }
        let b = bindings
            .get(index as usize)
            .ok_or_else(|| Error::invalid("helper", "bad reply"))?;
        Err(super::hints::explain_bind(Error::os(
            format!(
                "mount {} on {} failed",
                b.source.display(),
                b.target.display()
            ),
            Errno::from_raw(errno),
        )))
    }

    /// Undo every binding the helper made.
    pub fn undo_binds(&mut self) {
        if self.bound {
            let _ = self.ask(&[REQ_UNDO]);
            self.bound = false;
        }
    }

    /// Have the helper write our `uid_map`/`gid_map` with its privileges.
    pub fn write_map(&mut self, kind: MapKind, map: &IdMap) -> Result<()> {
        let op = match kind {
            MapKind::Uid => REQ_MAP_UID,
            MapKind::Gid => REQ_MAP_GID,
        };
        let mut msg = vec![op];
        put(&mut msg, map.to_kernel_text().as_bytes());
        let (errno, _) = self.ask(&msg)?;
        if errno != 0 {
            return Err(Error::os(
                format!(
                    "write failed /proc/{}/{}",
                    unistd::getpid(),
                    kind.file_name()
                ),
                Errno::from_raw(errno),
            ));
        }
        Ok(())
    }

    /// Have the helper write our `setgroups`.
    pub fn write_setgroups(&mut self, value: Setgroups) -> Result<()> {
        let op = match value {
            Setgroups::Deny => REQ_SETGROUPS_DENY,
            Setgroups::Allow => REQ_SETGROUPS_ALLOW,
        };
        let (errno, _) = self.ask(&[op])?;
        if errno != 0 {
            return Err(Error::os(
                format!("write failed /proc/{}/setgroups", unistd::getpid()),
                Errno::from_raw(errno),
            ));
        }
        Ok(())
    }

    fn ask(&mut self, msg: &[u8]) -> Result<(i32, u32)> {
        self.requests
            .write_all(msg)
            .what(|| "cannot reach the helper process".into())?;
        let mut reply = [0u8; 8];
        self.replies
            .read_exact(&mut reply)
            .what(|| "the helper process died".into())?;
        let errno = i32::from_ne_bytes(reply[..4].try_into().expect("4 bytes"));
        let index = u32::from_ne_bytes(reply[4..].try_into().expect("4 bytes"));
        Ok((errno, index))
    }

    /// Let the helper go and reap it.
    pub fn finish(self) {
        let pid = self.pid;
        drop(self.requests);
        drop(self.replies);
        let _ = waitpid(pid, None);
    }
}

fn put(msg: &mut Vec<u8>, bytes: &[u8]) {
    msg.extend((bytes.len() as u32).to_ne_bytes());
    msg.extend_from_slice(bytes);
}

fn get_u32(r: &mut std::fs::File) -> Option<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).ok()?;
    Some(u32::from_ne_bytes(b))
}

fn get_bytes(r: &mut std::fs::File) -> Option<Vec<u8>> {
    let len = get_u32(r)? as usize;
    if len > 64 * 1024 {
        return None;
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn errno_of(r: Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno().map(|e| e as i32).unwrap_or(libc::EINVAL),
    }
}

/// The helper's loop: serve requests until the parent closes the pipe.
fn serve(parent_dir: OwnedFd, mut requests: std::fs::File, mut replies: std::fs::File) -> i32 {
    let mut made: Vec<Binding> = Vec::new();
    loop {
        let mut op = [0u8; 1];
        if requests.read_exact(&mut op).is_err() {
            return 0;
        }
        let (errno, index) = match op[0] {
            REQ_BIND => {
                let Some(n) = get_u32(&mut requests) else {
                    return 1;
                };
                let mut batch = Vec::new();
                for _ in 0..n.min(64) {
                    let (Some(s), Some(t)) = (get_bytes(&mut requests), get_bytes(&mut requests))
                    else {
                        return 1;
                    };
                    batch.push(Binding {
                        source: PathBuf::from(OsString::from_vec(s)),
                        target: PathBuf::from(OsString::from_vec(t)),
                    });
                }
                match persist::bind_all(&batch) {
                    Ok(()) => {
                        made.extend(batch);
                        (0, 0)
                    }
                    Err((i, e)) => (errno_of(Err(e)), i as u32),
                }
            }
            REQ_UNDO => {
                for b in made.drain(..).rev() {
                    let _ = persist::unbind(&b.target);
                }
                (0, 0)
            }
            REQ_MAP_UID | REQ_MAP_GID => {
                let Some(text) = get_bytes(&mut requests) else {
                    return 1;
                };
                let name = if op[0] == REQ_MAP_UID {
                    "uid_map"
                } else {
                    "gid_map"
                };
                (
                    errno_of(idmap::write_raw(parent_dir.as_fd(), name, &text)),
                    0,
                )
            }
            REQ_SETGROUPS_DENY => (
                errno_of(idmap::write_setgroups(parent_dir.as_fd(), Setgroups::Deny)),
                0,
            ),
            REQ_SETGROUPS_ALLOW => (
                errno_of(idmap::write_setgroups(parent_dir.as_fd(), Setgroups::Allow)),
                0,
            ),
            REQ_RUN_MAPPER => {
                let Some(n) = get_u32(&mut requests) else {
                    return 1;
                };
                let mut jobs = Vec::new();
                for _ in 0..n.min(8) {
                    let (Some(fd_target), Some(argv)) =
                        (get_u32(&mut requests), get_bytes(&mut requests))
                    else {
                        return 1;
                    };
                    jobs.push((fd_target != 0, argv));
                }
                run_mappers(parent_dir.as_fd(), &jobs)
            }
            _ => return 1,
        };
        let mut reply = errno.to_ne_bytes().to_vec();
        reply.extend(index.to_ne_bytes());
        if replies.write_all(&reply).is_err() {
            return 1;
        }
    }
}

/// One newuidmap/newgidmap run for the helper: the program and its ranges
/// (the target is inserted by the helper), and whether it takes `fd:N`.
#[derive(Clone, Debug)]
pub struct MapperRun {
    pub argv: Vec<String>,
    pub fd_target: bool,
}

impl Outside {
    /// Have the helper run newuidmap/newgidmap on our user namespace, all
    /// at once (the uid and gid maps are independent files). The target,
    /// inserted first, is `fd:3` (our `/proc` directory, which the helper
    /// holds) for a mapper that takes fd targets, else our PID (safe here:
    /// we are alive and blocked on the reply, so it cannot be reused).
    /// Returns the index and exit status of the first that failed.
    pub fn run_mappers(&mut self, runs: &[MapperRun]) -> Result<Option<(usize, i32)>> {
        let mut msg = vec![REQ_RUN_MAPPER];
        msg.extend((runs.len() as u32).to_ne_bytes());
        for r in runs {
            msg.extend((r.fd_target as u32).to_ne_bytes());
            put(&mut msg, r.argv.join("\0").as_bytes());
        }
        let (status, index) = self.ask(&msg)?;
        let name = |i: u32| {
            runs.get(i as usize)
                .and_then(|r| r.argv.first().cloned())
                .unwrap_or_default()
        };
        if status < 0 {
            return Err(Error::os(
                format!("cannot run {}", name(index)),
                Errno::from_raw(-status),
            ));
        }
        Ok((status != 0).then_some((index as usize, status)))
    }
}

/// In the helper: start every mapper on the parent, then wait for them all.
/// Returns (0, 0), or the first failure's status (128+N if killed, -errno
/// if it could not start) and index.
fn run_mappers(parent_dir: std::os::fd::BorrowedFd<'_>, jobs: &[(bool, Vec<u8>)]) -> (i32, u32) {
    let mut children = Vec::new();
    let mut failure = (0, 0);
    for (i, (fd_target, argv)) in jobs.iter().enumerate() {
        match spawn_mapper(parent_dir, *fd_target, argv) {
            Ok(pid) => children.push((i, pid)),
            Err(e) if failure.0 == 0 => failure = (e, i as u32),
            Err(_) => {}
        }
    }
    for (i, child) in children {
        let status = loop {
            match waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => break code,
                Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => break -(e as i32),
            }
        };
        if status != 0 && failure.0 == 0 {
            failure = (status, i as u32);
        }
    }
    failure
}

fn spawn_mapper(
    parent_dir: std::os::fd::BorrowedFd<'_>,
    fd_target: bool,
    argv: &[u8],
) -> std::result::Result<Pid, i32> {
    use std::os::fd::AsRawFd;
    let mut words: Vec<std::ffi::CString> = Vec::new();
    for w in argv.split(|&b| b == 0) {
        words.push(std::ffi::CString::new(w).map_err(|_| -libc::EINVAL)?);
    }
    if words.len() < 2 {
        return Err(-libc::EINVAL);
    }
    let target = if fd_target {
        "fd:3".to_string()
    } else {
        unistd::getppid().to_string()
    };
    words.insert(1, std::ffi::CString::new(target).expect("no NUL"));
    // SAFETY: single-threaded; the child only sets up fd 3 and execs.
    match unsafe { unistd::fork() } {
        Err(e) => Err(-(e as i32)),
        Ok(ForkResult::Parent { child }) => Ok(child),
        Ok(ForkResult::Child) => {
            if fd_target {
                // SAFETY: dup2 onto 3 gives the mapper the directory without
                // O_CLOEXEC; dup first when the directory already is fd 3.
                unsafe {
                    let mut src = parent_dir.as_raw_fd();
                    if src == 3 {
                        src = libc::dup(src);
                    }
                    if libc::dup2(src, 3) < 0 {
                        libc::_exit(127);
                    }
                }
            }
            let _ = unistd::execv(&words[0], &words);
            // SAFETY: _exit after a failed exec, as a shell does.
            unsafe { libc::_exit(127) }
        }
    }
}
