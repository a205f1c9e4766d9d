//! Mounts: propagation, proc and binfmt_misc, binds.
//!
//! The kernel records propagation in the optional fields of
//! `/proc/PID/mountinfo` and changes it with mount(2) (MS_SHARED, MS_PRIVATE,
//! MS_SLAVE, MS_UNBINDABLE, with MS_REC for a whole subtree).

use std::fmt;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::{Error, OsContext, Result};

/// A mount's propagation type, as mount_namespaces(7) names them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Private,
    Slave,
    Unbindable,
}

impl Propagation {
    pub fn parse(word: &str) -> Option<Propagation> {
        match word {
            "shared" => Some(Propagation::Shared),
            "private" => Some(Propagation::Private),
            "slave" => Some(Propagation::Slave),
            "unbindable" => Some(Propagation::Unbindable),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Propagation::Shared => "shared",
            Propagation::Private => "private",
            Propagation::Slave => "slave",
            Propagation::Unbindable => "unbindable",
        }
    }

    fn flag(self) -> MsFlags {
        match self {
            Propagation::Shared => MsFlags::MS_SHARED,
            Propagation::Private => MsFlags::MS_PRIVATE,
            Propagation::Slave => MsFlags::MS_SLAVE,
            Propagation::Unbindable => MsFlags::MS_UNBINDABLE,
        }
    }
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Change the propagation of the mount at `path` (and, if `recursive`, of
/// every mount below it) with mount(2).
pub fn set_propagation(path: &Path, prop: Propagation, recursive: bool) -> Result<()> {
    let mut flags = prop.flag();
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .what(|| format!("cannot change {} filesystem propagation", path.display()))
}

/// Mount a new proc filesystem (of the caller's PID namespace) at `dir`.
pub fn mount_proc(dir: &Path) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount(Some("proc"), dir, Some("proc"), flags, None::<&str>)
        .what(|| format!("mount {} failed", dir.display()))
}

/// Mount a new binfmt_misc filesystem at `dir`.
pub fn mount_binfmt(dir: &Path) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount(
        Some("binfmt_misc"),
        dir,
        Some("binfmt_misc"),
        flags,
        None::<&str>,
    )
    .what(|| format!("mount {} failed", dir.display()))
}

/// `mount --bind SRC DST`.
pub fn bind(src: &Path, dst: &Path) -> Result<()> {
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .what(|| format!("mount {} on {} failed", src.display(), dst.display()))
}

/// `mount --rbind SRC DST`.
pub fn rbind(src: &Path, dst: &Path) -> Result<()> {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .what(|| format!("mount {} on {} failed", src.display(), dst.display()))
}

/// Unmount `path`; `detach` makes it lazy (MNT_DETACH).
pub fn unmount(path: &Path, detach: bool) -> Result<()> {
    let flags = if detach {
        MntFlags::MNT_DETACH
    } else {
        MntFlags::empty()
    };
    umount2(path, flags).what(|| format!("cannot unmount {}", path.display()))
}

/// Mount a filesystem by type (`sysfs`, `tmpfs`, ...) at `dir`.
pub fn mount_fs(
    fstype: &str,
    source: &str,
    dir: &Path,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(Some(source), dir, Some(fstype), flags, data)
        .what(|| format!("mount {fstype} on {} failed", dir.display()))
}

/// Register a binfmt_misc interpreter (`:name:type:offset:magic:mask:interpreter:flags`)
/// through the `register` file of a binfmt_misc mount at `dir`.
pub fn register_binfmt(dir: &Path, spec: &str) -> Result<()> {
    if !spec.starts_with(':') || spec.split(':').count() < 8 {
        return Err(Error::invalid(
            format!("'{spec}'"),
            "expected :name:type:offset:magic:mask:interpreter:flags",
        ));
    }
    let register = dir.join("register");
    std::fs::write(&register, spec.as_bytes())
        .what(|| format!("cannot write to {}", register.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_words_round_trip() {
        for p in [
            Propagation::Shared,
            Propagation::Private,
            Propagation::Slave,
            Propagation::Unbindable,
        ] {
            assert_eq!(Propagation::parse(p.word()), Some(p));
        }
        assert_eq!(Propagation::parse("unchanged"), None);
    }

    #[test]
    fn binfmt_specs_are_checked_before_writing() {
        assert!(register_binfmt(Path::new("/nonexistent"), "nope").is_err());
    }
}
