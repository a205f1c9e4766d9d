//! Turning the kernel's bare EPERM/EINVAL into what to fix, where the cause
//! can be known from the machine's own settings.

use std::path::Path;

use nix::errno::Errno;

use super::ns::{NsKind, NsSet};
use super::{creds, Error};

fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Explain a failed unshare(2) of `kinds`.
pub fn explain_unshare(e: Error, kinds: NsSet) -> Error {
    let Some(errno) = e.errno() else { return e };
    let hint = match errno {
        Errno::EPERM | Errno::EACCES if kinds.contains(NsKind::User) => {
            if sysctl("/proc/sys/user/max_user_namespaces") == Some(0) {
                Some(
                    "user namespaces are disabled (sysctl user.max_user_namespaces is 0)"
                        .to_string(),
                )
            } else if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == Some(0)
                && creds::euid() != 0
            {
                Some("unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone is 0)".into())
            } else if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
                Some("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns)".into())
            } else if Path::new("/proc/self/root")
                .read_link()
                .map(|p| p != Path::new("/"))
                .unwrap_or(false)
            {
                Some("a chrooted process may not create a user namespace".into())
            } else {
                None
            }
        }
        Errno::EPERM => {
            let names: Vec<&str> = kinds.kinds().map(|k| k.proc_name()).collect();
            Some(format!(
                "creating {} namespaces needs CAP_SYS_ADMIN: run as root, or add --user (e.g. -r) to \
                 create them inside a new user namespace",
                names.join(", ")
            ))
        }
        Errno::EINVAL => {
            let missing: Vec<&str> = kinds
                .kinds()
                .filter(|k| !Path::new(&format!("/proc/self/ns/{}", k.proc_name())).exists())
                .map(|k| k.proc_name())
                .collect();
            if !missing.is_empty() {
                Some(format!(
                    "this kernel has no {} namespaces",
                    missing.join(", ")
                ))
            } else if kinds.contains(NsKind::User) && thread_count() > 1 {
                Some("a multithreaded process cannot create a user namespace".into())
            } else {
                None
            }
        }
        Errno::ENOSPC => {
            let zero: Vec<String> = kinds
                .kinds()
                .map(|k| {
                    format!(
                        "max_{}_namespaces",
                        if k == NsKind::Mnt {
                            "mnt"
                        } else {
                            k.proc_name()
                        }
                    )
                })
                .filter(|name| sysctl(&format!("/proc/sys/user/{name}")) == Some(0))
                .collect();
            if zero.is_empty() {
                Some(
                    "the limit on namespaces is reached (see /proc/sys/user/max_*_namespaces)"
                        .into(),
                )
            } else {
                Some(format!(
                    "disabled here: sysctl user.{} is 0",
                    zero.join(", user.")
                ))
            }
        }
        Errno::EUSERS => Some("user namespaces are nested too deeply (32 levels at most)".into()),
        _ => None,
    };
    match hint {
        Some(h) => e.hinted(h),
        None => e,
    }
}

/// Explain a failed write of an id map.
pub fn explain_map(e: Error) -> Error {
    match e.errno() {
        Some(Errno::EPERM) if creds::euid() != 0 => e.hinted(
            "without privilege only your own id may be mapped, once, and gid_map needs setgroups denied first",
        ),
        Some(Errno::EPERM) => e.hinted("a map can be written only once"),
        _ => e,
    }
}

/// Explain a failed mount of proc.
pub fn explain_mount_proc(e: Error, kinds: NsSet) -> Error {
    match e.errno() {
        Some(Errno::EPERM) if kinds.contains(NsKind::User) && !kinds.contains(NsKind::Pid) => e.hinted(
            "proc can be mounted only by the owner of the PID namespace: add --pid --fork",
        ),
        Some(Errno::EPERM) => e.hinted(
            "the kernel refuses a new proc when the current /proc is partly hidden by other mounts \
             (a container masking /proc/sys, say); unmount those or run outside the container",
        ),
        _ => e,
    }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1)
}

/// Explain a refused bind of a namespace file onto its FILE.
pub fn explain_bind(e: Error) -> Error {
    match e.errno() {
        Some(Errno::EPERM) | Some(Errno::EACCES) => e.hinted(
            "keeping a namespace in a file is a mount, which needs CAP_SYS_ADMIN in the mount \
             namespace holding the file: run as root",
        ),
        _ => e,
    }
}

/// Explain a refused setgroups(2) (for `--setgid`).
pub fn explain_setgroups(e: Error) -> Error {
    let gid_map_empty = std::fs::read_to_string("/proc/self/gid_map")
        .map(|m| m.trim().is_empty())
        .unwrap_or(false);
    match e.errno() {
        Some(Errno::EPERM) if gid_map_empty => e.hinted(
            "this user namespace has no gid map yet: add --map-group=GID or --map-root-user",
        ),
        _ => e,
    }
}
