//! User-namespace id maps: `uid_map`, `gid_map` and `setgroups`.
//!
//! user_namespaces(7): each map is written once, in one write(2); an
//! unprivileged writer may map only its own id, and must deny setgroups
//! before writing gid_map.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use super::{Error, OsContext, Result};

/// The kernel's limit on lines in one map (since Linux 4.15).
pub const MAX_RANGES: usize = 340;

/// Which of a process's two maps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapKind {
    Uid,
    Gid,
}

impl MapKind {
    /// The file under `/proc/PID/`.
    pub fn file_name(self) -> &'static str {
        match self {
            MapKind::Uid => "uid_map",
            MapKind::Gid => "gid_map",
        }
    }
}

impl fmt::Display for MapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapKind::Uid => "uid",
            MapKind::Gid => "gid",
        })
    }
}

/// One line of a map: `count` ids from `inside` (in the namespace) are
/// `outside` (in the parent namespace) onwards.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdRange {
    /// One id mapped to one id.
    pub fn single(inside: u32, outside: u32) -> IdRange {
        IdRange {
            inside,
            outside,
            count: 1,
        }
    }

    /// Count at least 1 and neither side running past 2^32-1 (the kernel
    /// keeps (u32)-1 as "no id").
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::invalid(self.to_string(), "count must be at least 1"));
        }
        let fits = |start: u32| (start as u64) + (self.count as u64) <= u32::MAX as u64;
        if !fits(self.inside) || !fits(self.outside) {
            return Err(Error::invalid(
                self.to_string(),
                "range runs past 4294967294",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

/// A whole map, validated: 1..=340 ranges, none overlapping another inside
/// or outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMap(Vec<IdRange>);

impl IdMap {
    pub fn new(ranges: Vec<IdRange>) -> Result<IdMap> {
        if ranges.is_empty() {
            return Err(Error::invalid("map", "no ranges given"));
        }
        if ranges.len() > MAX_RANGES {
            return Err(Error::invalid(
                "map",
                format!(
                    "{} ranges given, the kernel takes at most {MAX_RANGES}",
                    ranges.len()
                ),
            ));
        }
        for r in &ranges {
            r.validate()?;
        }
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                if overlaps(a.inside, b.inside, a.count, b.count) {
                    return Err(Error::invalid(
                        format!("{a} and {b}"),
                        "ranges overlap inside",
                    ));
                }
                if overlaps(a.outside, b.outside, a.count, b.count) {
                    return Err(Error::invalid(
                        format!("{a} and {b}"),
                        "ranges overlap outside",
                    ));
                }
            }
        }
        Ok(IdMap(ranges))
    }

    pub fn ranges(&self) -> &[IdRange] {
        &self.0
    }

    /// The text the kernel takes: one `inside outside count` line per range.
    pub fn to_kernel_text(&self) -> String {
        self.0
            .iter()
            .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
            .collect()
    }
}

fn overlaps(a: u32, b: u32, a_count: u32, b_count: u32) -> bool {
    let (a, b) = (a as u64, b as u64);
    a < b + b_count as u64 && b < a + a_count as u64
}

/// Whether `setgroups(2)` stays possible in the namespace.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Setgroups {
    Allow,
    Deny,
}

impl Setgroups {
    pub fn word(self) -> &'static str {
        match self {
            Setgroups::Allow => "allow",
            Setgroups::Deny => "deny",
        }
    }
}

/// Write a map to `uid_map`/`gid_map` under an open `/proc/PID` (or
/// `/proc/self`) directory, in one write(2).
pub fn write(proc_dir: BorrowedFd<'_>, kind: MapKind, map: &IdMap) -> Result<()> {
    write_raw(proc_dir, kind.file_name(), map.to_kernel_text().as_bytes())
}

/// Write `allow` or `deny` to `setgroups` under an open `/proc/PID` directory.
pub fn write_setgroups(proc_dir: BorrowedFd<'_>, value: Setgroups) -> Result<()> {
    write_raw(proc_dir, "setgroups", value.word().as_bytes())
}

/// Write already-formatted text to one file under an open `/proc/PID`, in
/// one write(2) (the kernel takes a map only whole).
pub fn write_raw(proc_dir: BorrowedFd<'_>, name: &str, text: &[u8]) -> Result<()> {
    let fd = openat(
        proc_dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .what(|| format!("cannot open {}", proc_file_name(proc_dir, name)))?;
    let written = nix::unistd::write(fd.as_fd(), text)
        .what(|| format!("write failed {}", proc_file_name(proc_dir, name)))?;
    if written != text.len() {
        return Err(Error::invalid(
            proc_file_name(proc_dir, name),
            "short write",
        ));
    }
    Ok(())
}

/// `/proc/PID/NAME` for messages, from the directory fd's own path.
fn proc_file_name(proc_dir: BorrowedFd<'_>, name: &str) -> String {
    use std::os::fd::AsRawFd;
    match std::fs::read_link(format!("/proc/self/fd/{}", proc_dir.as_raw_fd())) {
        Ok(dir) if dir.starts_with("/proc") => format!("{}/{name}", dir.display()),
        _ => format!("/proc/self/{name}"),
    }
}

/// Parse `INSIDE:OUTSIDE:COUNT` (decimal, each 0..=2^32-1).
pub fn parse_range(spec: &str) -> Result<IdRange> {
    let bad = |why: &str| Error::invalid(format!("'{spec}'"), why.to_string());
    let mut parts = spec.split(':');
    let (Some(i), Some(o), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected INSIDE:OUTSIDE:COUNT"));
    };
    let range = IdRange {
        inside: parse_id(i, spec)?,
        outside: parse_id(o, spec)?,
        count: parse_id(c, spec)?,
    };
    range.validate()?;
    let _ = bad;
    Ok(range)
}

/// Parse one id: decimal digits only (no sign, no spaces), at most 2^32-1.
pub fn parse_id(word: &str, spec: &str) -> Result<u32> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            format!("'{spec}'"),
            format!("'{word}' is not a number"),
        ));
    }
    word.parse::<u32>()
        .map_err(|_| Error::invalid(format!("'{spec}'"), format!("'{word}' is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_validate() {
        assert_eq!(parse_range("0:1000:1").unwrap(), IdRange::single(0, 1000));
        assert_eq!(
            parse_range("1:100000:65536").unwrap(),
            IdRange {
                inside: 1,
                outside: 100000,
                count: 65536
            }
        );
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "a:1:1",
            "-1:0:1",
            "0:0:0",
            "0:4294967295:1",
            " 1:1:1",
            "1:1:+1",
        ] {
            assert!(parse_range(bad).is_err(), "{bad} should be refused");
        }
        assert!(parse_range("0:4294967294:1").is_ok());
        assert!(parse_range("4294967295:0:1").is_err());
        // The initial namespace's own map is "0 0 4294967295": the whole range fits.
        assert!(parse_range("0:0:4294967295").is_ok());
        assert!(parse_range("1:0:4294967295").is_err());
    }

    #[test]
    fn maps_refuse_overlap_emptiness_and_too_many_lines() {
        let r = |i, o, c| IdRange {
            inside: i,
            outside: o,
            count: c,
        };
        assert!(IdMap::new(vec![r(0, 1000, 1), r(1, 100000, 10)]).is_ok());
        assert!(IdMap::new(vec![]).is_err());
        let e = IdMap::new(vec![r(0, 1000, 10), r(5, 5000, 1)]).unwrap_err();
        assert!(e.to_string().contains("overlap inside"), "{e}");
        let e = IdMap::new(vec![r(0, 1000, 10), r(50, 1009, 1)]).unwrap_err();
        assert!(e.to_string().contains("overlap outside"), "{e}");
        let many: Vec<_> = (0..341).map(|i| r(i, i + 1000, 1)).collect();
        assert!(IdMap::new(many[..340].to_vec()).is_ok());
        assert!(IdMap::new(many).is_err());
    }

    #[test]
    fn kernel_text_is_one_line_per_range() {
        let m = IdMap::new(vec![
            IdRange::single(0, 1000),
            IdRange {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ])
        .unwrap();
        assert_eq!(m.to_kernel_text(), "0 1000 1\n1 100000 65536\n");
    }
}
