//! The syscall core: safe, typed wrappers named after the kernel calls they make.
//!
//! Nothing here parses a command line or prints. Every error says what was
//! attempted on what (`cannot open /proc/42/ns/net: No such process`); the
//! applet adds the user's context.

pub mod creds;
pub mod hints;
pub mod idmap;
pub mod mount;
pub mod netlink;
pub mod ns;
pub mod outside;
pub mod persist;
pub mod process;
pub mod timens;
pub mod userdb;

use std::fmt;

use nix::errno::Errno;

/// What went wrong in a system call or a check, and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A system call failed: `what` names the attempt and its object.
    Os { what: String, errno: Errno },
    /// An error with advice on what to fix.
    Hinted { error: Box<Error>, hint: String },
    /// Input (from a user or from `/proc`) failed validation.
    Invalid { what: String, why: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn os(what: impl Into<String>, errno: Errno) -> Self {
        Error::Os {
            what: what.into(),
            errno,
        }
    }

    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            Error::Invalid { .. } => None,
            Error::Hinted { error, .. } => error.errno(),
        }
    }

    /// The same error with a more specific description of the attempt.
    pub fn with_what(self, what: impl Into<String>) -> Self {
        match self {
            Error::Os { errno, .. } => Error::Os {
                what: what.into(),
                errno,
            },
            Error::Invalid { why, .. } => Error::Invalid {
                what: what.into(),
                why,
            },
            Error::Hinted { error, hint } => Error::Hinted {
                error: Box::new(error.with_what(what)),
                hint,
            },
        }
    }

    /// The same error with advice on what to fix.
    pub fn hinted(self, hint: impl Into<String>) -> Self {
        Error::Hinted {
            error: Box::new(self),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { what, errno } => write!(f, "{what}: {}", errno.desc()),
            Error::Invalid { what, why } => write!(f, "{what}: {why}"),
            Error::Hinted { error, hint } => write!(f, "{error} ({hint})"),
        }
    }
}

impl std::error::Error for Error {}

/// Attach a description of the attempt to a raw `nix` result.
pub trait OsContext<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> OsContext<T> for nix::Result<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::os(what(), errno))
    }
}

impl<T> OsContext<T> for std::io::Result<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            Error::os(what(), errno)
        })
    }
}
