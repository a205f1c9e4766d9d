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
            _ => return 1,
        };
        let mut reply = errno.to_ne_bytes().to_vec();
        reply.extend(index.to_ne_bytes());
        if replies.write_all(&reply).is_err() {
            return 1;
        }
    }
}
