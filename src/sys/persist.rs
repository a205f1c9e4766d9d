//! Keeping a namespace alive without a process in it: a bind mount of its
//! nsfs file (`/proc/PID/ns/KIND`) onto an ordinary file.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

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
