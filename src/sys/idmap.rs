//! User-namespace id maps: `uid_map`, `gid_map` and `setgroups`.
//!
//! user_namespaces(7): each map is written once, in one write(2); an
//! unprivileged writer may map only its own id, and must deny setgroups
//! before writing gid_map.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
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

impl MapKind {
    /// The setuid helper that writes this map: shadow's names.
    pub fn mapper_name(self) -> &'static str {
        match self {
            MapKind::Uid => "newuidmap",
            MapKind::Gid => "newgidmap",
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
    // An exited process's directory has no files left: say so.
    .map_err(|e| if e == Errno::ENOENT { Errno::ESRCH } else { e })
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

/// Parse a mapping given as words: each range either `INSIDE:OUTSIDE:COUNT`
/// in one word or as three numbers in a row (newuidmap's triplets).
pub fn parse_mapping<S: AsRef<str>>(words: &[S]) -> Result<Vec<IdRange>> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_ref();
        if word.contains(':') {
            ranges.push(parse_range(word)?);
            i += 1;
            continue;
        }
        let Some(three) = words.get(i..i + 3) else {
            let rest: Vec<&str> = words[i..].iter().map(|w| w.as_ref()).collect();
            return Err(Error::invalid(
                format!("'{}'", rest.join(" ")),
                "a range needs three numbers: INSIDE OUTSIDE COUNT",
            ));
        };
        let spec = format!(
            "{} {} {}",
            three[0].as_ref(),
            three[1].as_ref(),
            three[2].as_ref()
        );
        let range = IdRange {
            inside: parse_id(three[0].as_ref(), &spec)?,
            outside: parse_id(three[1].as_ref(), &spec)?,
            count: parse_id(three[2].as_ref(), &spec)?,
        };
        range.validate()?;
        ranges.push(range);
        i += 3;
    }
    Ok(ranges)
}

/// Parse a map as `/proc/PID/uid_map` shows it: one `inside outside count`
/// line per range, columns padded with spaces. An empty text is an
/// unwritten map.
pub fn parse_proc_map(text: &str) -> Result<Vec<IdRange>> {
    let mut ranges = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if words.len() != 3 || ranges.len() >= MAX_RANGES {
            return Err(Error::invalid(
                format!("map line '{line}'"),
                "not a map line",
            ));
        }
        let parse = |w: &str| {
            w.parse::<u32>()
                .map_err(|_| Error::invalid(format!("map line '{line}'"), "not a number"))
        };
        ranges.push(IdRange {
            inside: parse(words[0])?,
            outside: parse(words[1])?,
            count: parse(words[2])?,
        });
    }
    Ok(ranges)
}

/// Which file delegates ids of a kind: subuid(5), subgid(5). Always under
/// `/etc`: a privileged helper must not be told where to look.
pub fn subid_path(kind: MapKind) -> &'static str {
    match kind {
        MapKind::Uid => "/etc/subuid",
        MapKind::Gid => "/etc/subgid",
    }
}

/// One line of `/etc/subuid` or `/etc/subgid`: `OWNER:START:COUNT`, OWNER a
/// user (group) name or a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubidEntry {
    pub owner: String,
    pub start: u32,
    pub count: u32,
    /// 1-based line number, for messages.
    pub line: usize,
}

impl SubidEntry {
    /// The last id delegated.
    pub fn last(&self) -> u32 {
        self.start + (self.count - 1)
    }
}

impl fmt::Display for SubidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.owner, self.start, self.count)
    }
}

/// A parsed subordinate-id file: its good lines, and why each bad one was
/// skipped (a bad line is not fatal, as with shadow).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubidFile {
    pub entries: Vec<SubidEntry>,
    pub warnings: Vec<String>,
}

/// Parse the text of `/etc/subuid` or `/etc/subgid`. Blank lines and
/// `#` comments are skipped quietly; malformed lines with a warning.
pub fn parse_subid(text: &str, path: &str) -> SubidFile {
    let mut file = SubidFile::default();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_subid_line(trimmed, line_no) {
            Ok(entry) => file.entries.push(entry),
            Err(why) => file
                .warnings
                .push(format!("{path}:{line_no}: skipping malformed line: {why}")),
        }
    }
    file
}

fn parse_subid_line(line: &str, line_no: usize) -> std::result::Result<SubidEntry, String> {
    let mut parts = line.split(':');
    let (Some(owner), Some(start), Some(count), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected OWNER:START:COUNT".into());
    };
    if owner.is_empty() || owner.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("bad owner '{}'", owner.escape_debug()));
    }
    let number = |w: &str| {
        if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{}' is not a number", w.escape_debug()));
        }
        w.parse::<u32>()
            .map_err(|_| format!("'{w}' is out of range"))
    };
    let (start, count) = (number(start)?, number(count)?);
    if count == 0 {
        return Err("count must be at least 1".into());
    }
    if start as u64 + count as u64 > u32::MAX as u64 {
        return Err("range runs past 4294967294".into());
    }
    Ok(SubidEntry {
        owner: owner.to_string(),
        start,
        count,
        line: line_no,
    })
}

impl SubidFile {
    /// Read and parse a subordinate-id file; a missing file delegates nothing.
    pub fn read(path: &str) -> Result<SubidFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(parse_subid(&text, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SubidFile::default()),
            Err(e) => Err(Error::os(
                format!("cannot read {path}"),
                nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )),
        }
    }

    /// The delegations of one user (group): every line naming it, then,
    /// if `name` names none (shadow's order), every line giving its number.
    pub fn delegations(&self, name: Option<&str>, id: u32) -> Vec<SubidEntry> {
        let by_name: Vec<SubidEntry> = match name {
            Some(name) => self
                .entries
                .iter()
                .filter(|e| e.owner == name)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let id_word = id.to_string();
        let by_id = self.entries.iter().filter(|e| e.owner == id_word).cloned();
        by_name.into_iter().chain(by_id).collect()
    }
}

/// Whether `count` ids from `start` lie inside the delegations, which may
/// be spanned when they are adjacent (100000:65536 then 165536:65536).
pub fn delegated(delegations: &[SubidEntry], start: u32, count: u32) -> bool {
    let end = start as u64 + count as u64;
    let mut next = start as u64;
    while next < end {
        let Some(d) = delegations
            .iter()
            .find(|d| (d.start as u64) <= next && next < d.start as u64 + d.count as u64)
        else {
            return false;
        };
        next = d.start as u64 + d.count as u64;
    }
    true
}

/// Why a range may be written by a caller without privilege of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The caller's own id, one id (what the kernel allows anyone).
    OwnId,
    /// Inside the caller's delegations in `/etc/subuid`/`/etc/subgid`.
    Delegated,
}

/// newuidmap(1)'s rule for one range: the caller's own id alone, or ids
/// delegated to it. `Err` says why not, naming what would allow it.
pub fn grant(
    kind: MapKind,
    range: &IdRange,
    own_id: u32,
    delegations: &[SubidEntry],
) -> std::result::Result<Grant, String> {
    if delegated(delegations, range.outside, range.count) {
        return Ok(Grant::Delegated);
    }
    if range.count == 1 && range.outside == own_id {
        return Ok(Grant::OwnId);
    }
    let last = range.outside as u64 + range.count as u64 - 1;
    let what = if range.count == 1 {
        format!("{kind} {}", range.outside)
    } else {
        format!("{kind}s {}-{last}", range.outside)
    };
    let path = subid_path(kind);
    let yours = if delegations.is_empty() {
        format!("{path} delegates none to you")
    } else {
        let list: Vec<String> = delegations
            .iter()
            .map(|d| format!("{}-{} (line {})", d.start, d.last(), d.line))
            .collect();
        format!("{path} delegates you {}", list.join(", "))
    };
    let own = if range.outside == own_id && range.count > 1 {
        format!("your own {kind} {own_id} may be mapped only alone (count 1)")
    } else {
        format!("not your own {kind} ({own_id})")
    };
    Err(format!("{what}: {own}, and {yours}"))
}

/// What a target is given as on the command line: a PID (`42`, `pid:42`),
/// or an inherited file descriptor (`fd:3`) that is a pidfd or an open
/// `/proc/PID` directory, as shadow's newuidmap accepts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    Pid(i32),
    Fd(i32),
}

impl TargetSpec {
    pub fn parse(word: &str) -> Result<TargetSpec> {
        let number = |w: &str, what: &str| -> Result<i32> {
            if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = w.parse::<i32>() {
                    return Ok(n);
                }
            }
            Err(Error::invalid(
                format!("target '{word}'"),
                format!("{what} must be a number"),
            ))
        };
        let spec = if let Some(n) = word.strip_prefix("fd:") {
            TargetSpec::Fd(number(n, "the file descriptor")?)
        } else {
            TargetSpec::Pid(number(
                word.strip_prefix("pid:").unwrap_or(word),
                "the PID",
            )?)
        };
        if let TargetSpec::Pid(0) = spec {
            return Err(Error::invalid(
                format!("target '{word}'"),
                "no process has PID 0",
            ));
        }
        Ok(spec)
    }
}

/// A target process held by its `/proc/PID` directory, opened once: every
/// file is opened through it, so a PID reused by another process after the
/// checks cannot be written to (the open fails with ESRCH instead).
#[derive(Debug)]
pub struct Target {
    dir: OwnedFd,
    pub pid: u32,
    /// The owner of `/proc/PID`: the process's effective uid and gid.
    pub uid: u32,
    pub gid: u32,
}

/// procfs's and pidfs's magic numbers (statfs(2)).
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

impl Target {
    pub fn open(spec: TargetSpec) -> Result<Target> {
        match spec {
            TargetSpec::Pid(pid) => {
                let path = format!("/proc/{pid}");
                let dir = open(
                    path.as_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| if e == Errno::ENOENT { Errno::ESRCH } else { e })
                .what(|| format!("cannot open {path}"))?;
                let st = nix::sys::stat::fstat(&dir).what(|| format!("cannot stat {path}"))?;
                Ok(Target {
                    dir,
                    pid: pid as u32,
                    uid: st.st_uid,
                    gid: st.st_gid,
                })
            }
            TargetSpec::Fd(fd) => Target::from_inherited(fd),
        }
    }

    /// An inherited fd: a `/proc/PID` directory, or a pidfd (then
    /// `/proc/PID` is opened and the pidfd checked to be alive afterwards,
    /// so the directory is that process's).
    fn from_inherited(raw: i32) -> Result<Target> {
        let what = || format!("fd:{raw}");
        if raw < 0 {
            return Err(Error::invalid(what(), "not a file descriptor"));
        }
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on any number is harmless; an fd that is
        // not open fails with EBADF.
        let dup = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 3) };
        let dup = Errno::result(dup).what(|| format!("cannot use fd:{raw}"))?;
        // SAFETY: F_DUPFD_CLOEXEC returned a fresh fd that we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(dup) };
        let fs = nix::sys::statfs::fstatfs(&fd).what(|| format!("cannot use fd:{raw}"))?;
        if fs.filesystem_type().0 as i64 == PROC_SUPER_MAGIC {
            return Target::from_dir(fd);
        }
        let link = std::fs::read_link(format!("/proc/self/fd/{raw}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if link != "anon_inode:[pidfd]" && !link.starts_with("pidfd:") {
            return Err(Error::invalid(
                what(),
                format!("'{link}' is neither a /proc/PID directory nor a pidfd"),
            ));
        }
        let pid = pidfd_pid(raw).ok_or_else(|| Error::invalid(what(), "the process has exited"))?;
        let target = Target::open(TargetSpec::Pid(pid))?;
        // SAFETY: pidfd_send_signal with signal 0 only checks the process.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                0,
                std::ptr::null::<u8>(),
                0,
            )
        };
        // EPERM: alive, but another user's (the owner check then says so).
        match Errno::result(rc) {
            Ok(_) | Err(Errno::EPERM) => Ok(target),
            Err(e) => Err(e).what(|| format!("process {pid} of fd:{raw}")),
        }
    }

    /// An inherited `/proc/PID` directory: its PID is read from `status`.
    fn from_dir(dir: OwnedFd) -> Result<Target> {
        let st = nix::sys::stat::fstat(&dir).what(|| "cannot stat the target".into())?;
        let status = read_at(dir.as_fd(), "status").map_err(|_| {
            // The directory of a process that has exited has lost its files.
            let link = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = link.trim_end_matches(" (deleted)");
            match name.strip_prefix("/proc/") {
                Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    Error::os(format!("process {n} has exited"), Errno::ESRCH)
                }
                _ => Error::invalid(
                    format!("'{link}'"),
                    "not a /proc/PID directory (no status file)",
                ),
            }
        })?;
        let pid = status
            .lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or_else(|| Error::invalid("the target", "not a /proc/PID directory"))?;
        Ok(Target {
            dir,
            pid,
            uid: st.st_uid,
            gid: st.st_gid,
        })
    }

    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// The current map of a kind (empty: not written yet).
    pub fn map(&self, kind: MapKind) -> Result<Vec<IdRange>> {
        parse_proc_map(&read_at(self.dir(), kind.file_name())?)
    }

    /// What `setgroups` says: `allow` or `deny`.
    pub fn setgroups(&self) -> Result<String> {
        Ok(read_at(self.dir(), "setgroups")?.trim().to_string())
    }
}

/// The PID a pidfd refers to (`Pid:` of its fdinfo; -1 once it has exited).
fn pidfd_pid(raw: i32) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}")).ok()?;
    let pid: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))?
        .trim()
        .parse()
        .ok()?;
    (pid > 0).then_some(pid)
}

/// Read a small file under an open `/proc/PID` directory.
pub fn read_at(dir: BorrowedFd<'_>, name: &str) -> Result<String> {
    let fd = openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| if e == Errno::ENOENT { Errno::ESRCH } else { e })
        .what(|| format!("cannot open {}", proc_file_name(dir, name)))?;
    let mut file = std::fs::File::from(fd);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text)
        .what(|| format!("cannot read {}", proc_file_name(dir, name)))?;
    Ok(text)
}

/// The ranges util-linux's `--map-auto` and `--map-subids` choose from the
/// first delegation: the delegation from 0, or (given the caller's own id)
/// that id to 0 and the delegation from 1.
pub fn auto_ranges(own: Option<u32>, first: &SubidEntry) -> Vec<IdRange> {
    match own {
        None => vec![IdRange {
            inside: 0,
            outside: first.start,
            count: first.count,
        }],
        Some(own) => vec![
            IdRange::single(0, own),
            IdRange {
                inside: 1,
                outside: first.start,
                count: first.count.min(u32::MAX - 1),
            },
        ],
    }
}

/// A `newuidmap`/`newgidmap` found on PATH.
#[derive(Clone, Debug)]
pub struct Mapper {
    pub path: std::path::PathBuf,
    /// Setuid root, or carrying file capabilities.
    pub privileged: bool,
}

/// An ELF note (owner `nstools`, type 1, `fd-targets`) in every nstools
/// binary, by which a mapper found on PATH is known to be ours and to take
/// `fd:N` targets (shadow's before 4.14 take only a PID). A note sits in a
/// PT_NOTE segment near the start of the file: found with two small reads.
#[repr(C, align(4))]
pub struct ElfNote {
    namesz: u32,
    descsz: u32,
    kind: u32,
    name: [u8; 8],
    desc: [u8; 12],
}

#[used]
#[link_section = ".note.nstools"]
pub static FD_TARGET_NOTE: ElfNote = ElfNote {
    namesz: 8,
    descsz: 11,
    kind: 1,
    name: *b"nstools\0",
    desc: *b"fd-targets\0\0",
};

impl Mapper {
    /// The first executable of the kind's name on PATH.
    pub fn find(kind: MapKind) -> Option<Mapper> {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::var_os("PATH")?;
        for dir in std::env::split_paths(&path) {
            let file = dir.join(kind.mapper_name());
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode();
            if !meta.is_file() || mode & 0o111 == 0 {
                continue;
            }
            use std::os::unix::fs::MetadataExt;
            let setuid_root = mode & 0o4000 != 0 && meta.uid() == 0;
            return Some(Mapper {
                privileged: setuid_root || has_file_caps(&file),
                path: file,
            });
        }
        None
    }

    /// Whether the mapper is ours (so takes `fd:N`): it carries our note.
    pub fn takes_fd_targets(&self) -> bool {
        std::fs::File::open(&self.path)
            .map(|f| has_note(&f, &FD_TARGET_NOTE))
            .unwrap_or(false)
    }
}

/// Whether a 64-bit little-endian ELF file has `note` in a PT_NOTE segment.
fn has_note(file: &std::fs::File, note: &ElfNote) -> bool {
    use std::os::unix::fs::FileExt;
    const PT_NOTE: u32 = 4;
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let mut head = [0u8; 64];
    if file.read_exact_at(&mut head, 0).is_err() || &head[..6] != b"\x7fELF\x02\x01" {
        return false;
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&head, 0x20),
        u16_at(&head, 0x36),
        u16_at(&head, 0x38),
    );
    if phentsize < 56 || phnum > 64 {
        return false;
    }
    let mut phdrs = vec![0u8; (phentsize * phnum) as usize];
    if file.read_exact_at(&mut phdrs, phoff).is_err() {
        return false;
    }
    let want_name = &note.name[..note.namesz as usize];
    let want_desc = &note.desc[..note.descsz as usize];
    for ph in phdrs.chunks_exact(phentsize as usize) {
        if u32_at(ph, 0) != PT_NOTE {
            continue;
        }
        let (offset, size, align) = (u64_at(ph, 8), u64_at(ph, 32), u64_at(ph, 48));
        if size > 4096 {
            continue;
        }
        let mut notes = vec![0u8; size as usize];
        if file.read_exact_at(&mut notes, offset).is_err() {
            continue;
        }
        let pad = |n: usize| {
            if align == 8 {
                n.div_ceil(8) * 8
            } else {
                n.div_ceil(4) * 4
            }
        };
        let mut at = 0usize;
        while at + 12 <= notes.len() {
            let namesz = u32_at(&notes, at) as usize;
            let descsz = u32_at(&notes, at + 4) as usize;
            let kind = u32_at(&notes, at + 8);
            let name_at = at + 12;
            let desc_at = name_at + pad(namesz);
            let end = desc_at + pad(descsz);
            if end > notes.len() || desc_at + descsz > notes.len() {
                break;
            }
            if kind == note.kind
                && &notes[name_at..name_at + namesz] == want_name
                && &notes[desc_at..desc_at + descsz] == want_desc
            {
                return true;
            }
            at = end;
        }
    }
    false
}

fn has_file_caps(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(cpath) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a zero-size getxattr only asks for the value's length.
    let rc = unsafe {
        libc::getxattr(
            cpath.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc > 0
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

    #[test]
    fn mappings_take_colon_words_and_triplets_mixed() {
        let m = parse_mapping(&["0:1000:1", "1", "100000", "65536"]).unwrap();
        assert_eq!(
            m,
            vec![
                IdRange::single(0, 1000),
                IdRange {
                    inside: 1,
                    outside: 100000,
                    count: 65536
                }
            ]
        );
        let e = parse_mapping(&["0", "1000"]).unwrap_err();
        assert!(e.to_string().contains("three numbers"), "{e}");
        let e = parse_mapping(&["0", "-5", "1"]).unwrap_err();
        assert!(e.to_string().contains("'-5' is not a number"), "{e}");
        assert!(parse_mapping(&["0", "0", "0"]).is_err());
        assert!(parse_mapping::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn proc_maps_parse_as_the_kernel_pads_them() {
        let m =
            parse_proc_map("         0     100000      65536\n         0          0 4294967295\n")
                .unwrap();
        assert_eq!(
            m[0],
            IdRange {
                inside: 0,
                outside: 100000,
                count: 65536
            }
        );
        assert_eq!(m[1].count, u32::MAX);
        assert!(parse_proc_map("").unwrap().is_empty());
        assert!(parse_proc_map("0 1\n").is_err());
        assert!(parse_proc_map("0 1 x\n").is_err());
    }

    #[test]
    fn subid_files_skip_bad_lines_with_a_warning() {
        let f = parse_subid(
            "alice:100000:65536\n\n# comment\nbroken\nbob:1:0\n1000:165536:65536\nalice:x:1\nalice:4294967295:1\n",
            "/etc/subuid",
        );
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.warnings.len(), 4, "{:?}", f.warnings);
        assert!(
            f.warnings[0].starts_with("/etc/subuid:4:"),
            "{:?}",
            f.warnings
        );
        let d = f.delegations(Some("alice"), 1000);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].start, d[1].start), (100000, 165536));
        assert!(f.delegations(Some("carol"), 7).is_empty());
        assert_eq!(f.delegations(None, 1000).len(), 1);
    }

    #[test]
    fn adjacent_delegations_may_be_spanned_but_gaps_not() {
        let f = parse_subid("a:100:10\na:110:10\na:200:10\n", "x");
        let d = f.delegations(Some("a"), 1);
        assert!(delegated(&d, 100, 20));
        assert!(delegated(&d, 105, 10));
        assert!(!delegated(&d, 100, 21));
        assert!(!delegated(&d, 99, 2));
        assert!(delegated(&d, 200, 10));
        assert!(!delegated(&d, 115, 90));
    }

    #[test]
    fn grants_follow_newuidmaps_rule() {
        let f = parse_subid("u:100000:65536\n", "/etc/subuid");
        let d = f.delegations(Some("u"), 1000);
        let r = |i, o, c| IdRange {
            inside: i,
            outside: o,
            count: c,
        };
        assert_eq!(
            grant(MapKind::Uid, &r(0, 1000, 1), 1000, &d),
            Ok(Grant::OwnId)
        );
        assert_eq!(
            grant(MapKind::Uid, &r(1, 100000, 65536), 1000, &d),
            Ok(Grant::Delegated)
        );
        let e = grant(MapKind::Uid, &r(0, 1000, 2), 1000, &d).unwrap_err();
        assert!(e.contains("only alone"), "{e}");
        let e = grant(MapKind::Uid, &r(0, 0, 1), 1000, &d).unwrap_err();
        assert!(
            e.contains("uid 0: not your own uid (1000)") && e.contains("100000-165535"),
            "{e}"
        );
        let e = grant(MapKind::Gid, &r(0, 5, 1), 1000, &[]).unwrap_err();
        assert!(e.contains("/etc/subgid delegates none to you"), "{e}");
    }

    #[test]
    fn targets_are_pids_or_fds() {
        assert_eq!(TargetSpec::parse("42").unwrap(), TargetSpec::Pid(42));
        assert_eq!(TargetSpec::parse("pid:42").unwrap(), TargetSpec::Pid(42));
        assert_eq!(TargetSpec::parse("fd:3").unwrap(), TargetSpec::Fd(3));
        for bad in [
            "",
            "0",
            "-1",
            "fd:",
            "fd:x",
            "pid:",
            "x",
            "99999999999",
            " 4",
        ] {
            assert!(TargetSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_and_subids_choose_as_util_linux() {
        let first = SubidEntry {
            owner: "u".into(),
            start: 100000,
            count: 65536,
            line: 1,
        };
        assert_eq!(
            auto_ranges(None, &first),
            vec![IdRange {
                inside: 0,
                outside: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            auto_ranges(Some(1000), &first),
            vec![
                IdRange::single(0, 1000),
                IdRange {
                    inside: 1,
                    outside: 100000,
                    count: 65536
                }
            ]
        );
    }

    #[test]
    fn our_binaries_carry_the_fd_target_note_and_shadows_do_not() {
        let me = std::fs::File::open("/proc/self/exe").unwrap();
        assert!(has_note(&me, &FD_TARGET_NOTE));
        if let Ok(shadow) = std::fs::File::open("/usr/bin/newuidmap") {
            assert!(!has_note(&shadow, &FD_TARGET_NOTE));
        }
        let text = std::fs::File::open("/etc/passwd").unwrap();
        assert!(!has_note(&text, &FD_TARGET_NOTE));
    }
}
