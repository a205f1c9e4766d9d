//! Credentials: who we are, who we become, and which capabilities we keep.

use nix::errno::Errno;
use nix::unistd::{self, Gid, Uid};

use super::{Error, OsContext, Result};

/// A numeric id only (util-linux's `-S`/`-G` take numbers).
pub fn parse_numeric_id(word: &str, what: &str) -> Result<u32> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = word.parse::<u32>() {
            if id != u32::MAX {
                return Ok(id);
            }
        }
    }
    Err(Error::invalid(
        format!("failed to parse {what}"),
        format!("'{word}'"),
    ))
}

pub fn euid() -> u32 {
    unistd::geteuid().as_raw()
}

pub fn egid() -> u32 {
    unistd::getegid().as_raw()
}

pub fn uid() -> u32 {
    unistd::getuid().as_raw()
}

pub fn gid() -> u32 {
    unistd::getgid().as_raw()
}

/// Whether the binary runs with more privilege than its caller gave it:
/// setuid/setgid, or file capabilities (the kernel's AT_SECURE).
pub fn is_raised() -> bool {
    // SAFETY: getauxval reads the auxiliary vector and has no failure mode we rely on.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    secure || unistd::getuid() != unistd::geteuid() || unistd::getgid() != unistd::getegid()
}

/// Drop all supplementary groups.
pub fn clear_groups() -> Result<()> {
    unistd::setgroups(&[]).what(|| "setgroups failed".into())
}

/// `setgid(2)`.
pub fn set_gid(gid: u32) -> Result<()> {
    unistd::setgid(Gid::from_raw(gid)).what(|| "setgid failed".into())
}

/// `setuid(2)`.
pub fn set_uid(uid: u32) -> Result<()> {
    unistd::setuid(Uid::from_raw(uid)).what(|| "setuid failed".into())
}

/// `setresuid`/`setresgid` for the effective ids only, keeping the real ones,
/// so the change can be undone.
pub fn set_effective(uid: u32, gid: u32) -> Result<()> {
    unistd::setegid(Gid::from_raw(gid)).what(|| format!("setegid {gid} failed"))?;
    unistd::seteuid(Uid::from_raw(uid)).what(|| format!("seteuid {uid} failed"))
}

/// Highest capability number this kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Copy, Clone, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn capget() -> Result<[CapData; 2]> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget fills two CapData structs for version 3.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    Errno::result(rc).what(|| "capget failed".into())?;
    Ok(data)
}

fn capset(data: &[CapData; 2]) -> Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset reads two CapData structs for version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    Errno::result(rc).map(drop).what(|| "capset failed".into())
}

/// Make the permitted capabilities survive execve(2) as ambient ones
/// (capabilities(7): an ambient capability must also be permitted and
/// inheritable). What `--keep-caps` does.
pub fn permitted_to_ambient() -> Result<()> {
    let mut data = capget()?;
    for d in data.iter_mut() {
        d.inheritable = d.permitted;
    }
    capset(&data)?;
    for cap in 0..=last_cap() {
        let (word, bit) = ((cap / 32) as usize, cap % 32);
        if word < 2 && data[word].permitted & (1 << bit) != 0 {
            // SAFETY: PR_CAP_AMBIENT_RAISE takes a capability number.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            Errno::result(rc).what(|| format!("cannot raise ambient capability {cap}"))?;
        }
    }
    Ok(())
}

/// Whether a capability is in our effective set.
pub fn has_effective(cap: u32) -> bool {
    let Ok(data) = capget() else { return false };
    let (word, bit) = ((cap / 32) as usize, cap % 32);
    word < 2 && data[word].effective & (1 << bit) != 0
}

/// CAP_SYS_ADMIN, the capability most namespace calls need.
pub const CAP_SYS_ADMIN: u32 = 21;

/// CAP_SETGID, CAP_SETUID, CAP_SETFCAP (linux/capability.h).
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETFCAP: u32 = 31;

/// Whether a capability is in our permitted set (so it can be kept).
pub fn has_permitted(cap: u32) -> bool {
    let Ok(data) = capget() else { return false };
    let (word, bit) = ((cap / 32) as usize, cap % 32);
    word < 2 && data[word].permitted & (1 << bit) != 0
}

/// Become the real user and group that started us, keeping only `keep`
/// (those of them we hold) as permitted and effective capabilities: what a
/// setuid-root or file-capability helper does before touching anything the
/// caller names. The process stays non-dumpable (the kernel's rule after a
/// change of credentials), so the caller cannot ptrace the capabilities.
pub fn drop_to_caller(keep: &[u32]) -> Result<()> {
    let (ruid, rgid) = (uid(), gid());
    set_keepcaps(true)?;
    let r = (|| {
        let g = Gid::from_raw(rgid);
        unistd::setresgid(g, g, g).what(|| format!("setresgid {rgid} failed"))?;
        let u = Uid::from_raw(ruid);
        unistd::setresuid(u, u, u).what(|| format!("setresuid {ruid} failed"))
    })();
    let kept = set_keepcaps(false);
    r?;
    kept?;
    let old = capget()?;
    let mut data = [CapData::default(); 2];
    for &cap in keep {
        let (word, bit) = ((cap / 32) as usize, cap % 32);
        if word < 2 && old[word].permitted & (1 << bit) != 0 {
            data[word].permitted |= 1 << bit;
            data[word].effective |= 1 << bit;
        }
    }
    capset(&data)?;
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no further arguments.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    Errno::result(rc).what(|| "cannot clear ambient capabilities".into())?;
    Ok(())
}

fn set_keepcaps(on: bool) -> Result<()> {
    // SAFETY: PR_SET_KEEPCAPS takes 0 or 1.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
    Errno::result(rc)
        .map(drop)
        .what(|| "prctl(PR_SET_KEEPCAPS) failed".into())
}

/// Drop supplementary groups, as after entering a user namespace. Where
/// that namespace denies setgroups(2) (user_namespaces(7): `deny` in
/// `/proc/PID/setgroups`, which an unprivileged map requires) the kernel
/// refuses with EPERM and the groups are left as they are. Whether we are
/// in such a namespace cannot be read from `/proc/self` once a mount or
/// PID namespace is entered, so `entered_userns` says it.
pub fn clear_groups_in_userns(entered_userns: bool) -> Result<()> {
    match clear_groups() {
        Err(e) if entered_userns && e.errno() == Some(Errno::EPERM) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_refuse_signs_and_the_no_id_value() {
        assert_eq!(parse_numeric_id("0", "uid").unwrap(), 0);
        assert_eq!(parse_numeric_id("65534", "uid").unwrap(), 65534);
        for bad in ["", "-1", "+1", "x", "4294967295", "99999999999"] {
            assert!(parse_numeric_id(bad, "uid").is_err(), "{bad}");
        }
    }
}
