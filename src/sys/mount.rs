//! Mounts: propagation, proc and binfmt_misc, binds.
//!
//! The kernel records propagation in the optional fields of
//! `/proc/PID/mountinfo` and changes it with mount(2) (MS_SHARED, MS_PRIVATE,
//! MS_SLAVE, MS_UNBINDABLE, with MS_REC for a whole subtree).

use std::ffi::CString;
use std::fmt;
use std::path::Path;

use nix::errno::Errno;
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
    mount(
        None::<&str>,
        path,
        None::<&str>,
        propagation_flags(prop, recursive),
        None::<&str>,
    )
    .what(|| propagation_what(path))
}

fn propagation_flags(prop: Propagation, recursive: bool) -> MsFlags {
    let mut flags = prop.flag();
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    flags
}

fn propagation_what(path: &Path) -> String {
    format!("cannot change {} filesystem propagation", path.display())
}

const PROC_FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NODEV);

/// Mount a new proc filesystem (of the caller's PID namespace) at `dir`.
pub fn mount_proc(dir: &Path) -> Result<()> {
    mount(Some("proc"), dir, Some("proc"), PROC_FLAGS, None::<&str>).what(|| proc_what(dir))
}

fn proc_what(dir: &Path) -> String {
    format!("mount {} failed", dir.display())
}

/// A mount(2) call planned in advance, for a process that may not allocate
/// (`process::Spawn`'s child): its arguments as C strings, and the words its
/// failure is reported in, those of the function that makes the same call
/// directly.
#[derive(Debug)]
pub struct MountCall {
    pub source: Option<CString>,
    pub target: CString,
    pub fstype: Option<CString>,
    pub flags: libc::c_ulong,
    /// An errno that counts as success (a custom proc DIR may hold no
    /// mount whose propagation could be changed: EINVAL).
    pub tolerated: Option<Errno>,
    /// What was attempted, for the error message.
    pub what: String,
}

impl MountCall {
    /// What `set_propagation` does; `None` if the path holds a NUL byte.
    pub fn set_propagation(path: &Path, prop: Propagation, recursive: bool) -> Option<MountCall> {
        Some(MountCall {
            source: None,
            target: c_path(path)?,
            fstype: None,
            flags: propagation_flags(prop, recursive).bits(),
            tolerated: None,
            what: propagation_what(path),
        })
    }

    /// What `mount_proc` does; `None` if the path holds a NUL byte.
    pub fn mount_proc(dir: &Path) -> Option<MountCall> {
        Some(MountCall {
            source: Some(c"proc".into()),
            target: c_path(dir)?,
            fstype: Some(c"proc".into()),
            flags: PROC_FLAGS.bits(),
            tolerated: None,
            what: proc_what(dir),
        })
    }

    /// The same call, with `errno` counting as success.
    pub fn tolerating(mut self, errno: Errno) -> MountCall {
        self.tolerated = Some(errno);
        self
    }

    /// The error this call's failure with `errno` is reported as.
    pub fn error(&self, errno: Errno) -> Error {
        Error::os(self.what.clone(), errno)
    }
}

fn c_path(path: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).ok()
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

// ---------------------------------------------------------------------------
// /proc/PID/mountinfo (proc(5)): one mount per line,
//   ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
// The optional fields are the kernel's record of propagation (`shared:N`,
// `master:N`, `propagate_from:N`, `unbindable`); the kernel escapes space,
// tab, newline and backslash in the text fields as `\ooo`.

/// A text field of mountinfo as the kernel wrote it, `\ooo` escapes and all.
/// Decoding is lazy, so parsing a table of 30,000 mounts allocates nothing
/// per line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a [u8]);

impl<'a> Escaped<'a> {
    /// The bytes as the kernel wrote them.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// The decoded bytes, one at a time.
    pub fn bytes(&self) -> Unescape<'a> {
        Unescape { rest: self.0 }
    }

    /// The decoded bytes, borrowed when there was nothing to decode.
    pub fn decode(&self) -> std::borrow::Cow<'a, [u8]> {
        if self.0.contains(&b'\\') {
            std::borrow::Cow::Owned(self.bytes().collect())
        } else {
            std::borrow::Cow::Borrowed(self.0)
        }
    }

    /// The decoded field as a path.
    pub fn to_path(&self) -> std::path::PathBuf {
        use std::os::unix::ffi::OsStrExt;
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&self.decode()))
    }
}

/// Iterator over the decoded bytes of an [`Escaped`] field. A backslash not
/// followed by three octal digits (of a value below 256) stands for itself.
pub struct Unescape<'a> {
    rest: &'a [u8],
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        if b == b'\\' {
            if let [d0 @ b'0'..=b'3', d1 @ b'0'..=b'7', d2 @ b'0'..=b'7', ..] = *tail {
                self.rest = &tail[3..];
                return Some(((d0 - b'0') << 6) | ((d1 - b'0') << 3) | (d2 - b'0'));
            }
        }
        self.rest = tail;
        Some(b)
    }
}

/// The propagation record of one mount: the optional fields the kernel
/// knows. No tag at all means private.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PropagationTags {
    /// `shared:N`: member of peer group N.
    pub shared: Option<u64>,
    /// `master:N`: slave of peer group N.
    pub master: Option<u64>,
    /// `propagate_from:N`: receives from peer group N (the nearest dominant
    /// group visible from this process's root).
    pub propagate_from: Option<u64>,
    /// `unbindable`.
    pub unbindable: bool,
}

impl PropagationTags {
    pub fn is_private(&self) -> bool {
        *self == PropagationTags::default()
    }

    /// The kernel's own record, tags joined by commas (`shared:1,master:2`),
    /// or `private` when there is none.
    pub fn write_tags(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let tag = |out: &mut Vec<u8>, name: &str, n: Option<u64>| {
            if out.len() > start {
                out.push(b',');
            }
            out.extend_from_slice(name.as_bytes());
            if let Some(n) = n {
                out.push(b':');
                push_u64(out, n);
            }
        };
        if let Some(n) = self.shared {
            tag(out, "shared", Some(n));
        }
        if let Some(n) = self.master {
            tag(out, "master", Some(n));
        }
        if let Some(n) = self.propagate_from {
            tag(out, "propagate_from", Some(n));
        }
        if self.unbindable {
            tag(out, "unbindable", None);
        }
        if out.len() == start {
            out.extend_from_slice(b"private");
        }
    }

    /// findmnt's summary: `shared` or `private`, then `,slave` and
    /// `,unbindable` when they apply.
    pub fn mode(&self) -> &'static str {
        match (
            self.shared.is_some(),
            self.master.is_some(),
            self.unbindable,
        ) {
            (true, false, false) => "shared",
            (true, true, false) => "shared,slave",
            (true, false, true) => "shared,unbindable",
            (true, true, true) => "shared,slave,unbindable",
            (false, false, false) => "private",
            (false, true, false) => "private,slave",
            (false, false, true) => "private,unbindable",
            (false, true, true) => "private,slave,unbindable",
        }
    }
}

impl fmt::Display for PropagationTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::new();
        self.write_tags(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

/// Append the decimal digits of `n`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// One line of mountinfo, borrowed from the text it was parsed from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    /// The mount's id (unique while it is mounted).
    pub id: u64,
    /// The id of the mount it is mounted on (its own id, or one not in the
    /// table, for the root of what this process sees).
    pub parent: u64,
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem that forms this mount's root.
    pub root: Escaped<'a>,
    /// Where it is mounted, relative to the process's root.
    pub mount_point: Escaped<'a>,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub options: Escaped<'a>,
    /// Every optional field as written, space-separated (may hold tags this
    /// parser does not know; they are kept, not refused).
    pub optional: &'a [u8],
    /// The optional fields this parser knows.
    pub propagation: PropagationTags,
    pub fstype: Escaped<'a>,
    /// The mount source (`/dev/sda1`, `tmpfs`, `none`).
    pub source: Escaped<'a>,
    /// Per-superblock options.
    pub super_options: Escaped<'a>,
}

/// Parse one line of mountinfo (without its newline); the error says which
/// field is wrong.
pub fn parse_mountinfo_line(line: &[u8]) -> std::result::Result<MountEntry<'_>, String> {
    let mut fields = line.split(|&b| b == b' ');
    fn field<'l>(
        fields: &mut impl Iterator<Item = &'l [u8]>,
        name: &str,
    ) -> std::result::Result<&'l [u8], String> {
        fields.next().ok_or_else(|| format!("no {name} field"))
    }
    macro_rules! next {
        ($name:expr) => {
            field(&mut fields, $name)
        };
    }
    let id = parse_number(next!("mount id")?, "mount id")?;
    let parent = parse_number(next!("parent id")?, "parent id")?;
    let devno = next!("major:minor")?;
    let Some(colon) = devno.iter().position(|&b| b == b':') else {
        return Err("major:minor has no ':'".into());
    };
    let major = u32::try_from(parse_number(&devno[..colon], "major")?)
        .map_err(|_| "major number out of range")?;
    let minor = u32::try_from(parse_number(&devno[colon + 1..], "minor")?)
        .map_err(|_| "minor number out of range")?;
    let root = Escaped(next!("root")?);
    let mount_point = Escaped(next!("mount point")?);
    let options = Escaped(next!("mount options")?);
    if root.0.is_empty() || mount_point.0.is_empty() {
        return Err("empty root or mount point".into());
    }
    let mut propagation = PropagationTags::default();
    let optional_start =
        (options.0.as_ptr() as usize - line.as_ptr() as usize) + options.0.len() + 1;
    let mut optional_end = optional_start;
    loop {
        let tag = fields
            .next()
            .ok_or("no ' - ' separator before the filesystem type")?;
        if tag == b"-" {
            break;
        }
        optional_end = tag.as_ptr() as usize - line.as_ptr() as usize + tag.len();
        parse_tag(tag, &mut propagation)?;
    }
    let optional = if optional_end > optional_start {
        &line[optional_start..optional_end]
    } else {
        &[][..]
    };
    let fstype = Escaped(next!("filesystem type")?);
    let source = Escaped(next!("mount source")?);
    let super_options = Escaped(next!("super options")?);
    // Later kernels may add fields at the end: they are ignored, not refused.
    Ok(MountEntry {
        id,
        parent,
        major,
        minor,
        root,
        mount_point,
        options,
        optional,
        propagation,
        fstype,
        source,
        super_options,
    })
}

fn parse_number(word: &[u8], name: &str) -> std::result::Result<u64, String> {
    if word.is_empty() || word.len() > 19 || !word.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "{name} '{}' is not a number",
            String::from_utf8_lossy(word)
        ));
    }
    Ok(word.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Read one optional field into `tags`; unknown tags are skipped, known
/// ones must carry a number and appear once.
fn parse_tag(tag: &[u8], tags: &mut PropagationTags) -> std::result::Result<(), String> {
    let (name, value) = match tag.iter().position(|&b| b == b':') {
        Some(i) => (&tag[..i], Some(&tag[i + 1..])),
        None => (tag, None),
    };
    let slot = match name {
        b"shared" => &mut tags.shared,
        b"master" => &mut tags.master,
        b"propagate_from" => &mut tags.propagate_from,
        b"unbindable" if value.is_none() => {
            if tags.unbindable {
                return Err("'unbindable' given twice".into());
            }
            tags.unbindable = true;
            return Ok(());
        }
        b"" => return Err("empty optional field (two spaces)".into()),
        _ => return Ok(()),
    };
    let name = String::from_utf8_lossy(name);
    let Some(value) = value else {
        return Err(format!("optional field '{name}' has no peer group number"));
    };
    if slot.is_some() {
        return Err(format!("optional field '{name}' given twice"));
    }
    *slot = Some(parse_number(value, &format!("peer group of '{name}'"))?);
    Ok(())
}

/// Parse a whole mountinfo text; a malformed line is an error that names
/// `origin`, the line number and the line.
pub fn parse_mountinfo<'a>(text: &'a [u8], origin: &str) -> Result<Vec<MountEntry<'a>>> {
    // A line is at least ~40 bytes: a good guess saves regrowing.
    let mut mounts = Vec::with_capacity(text.len() / 64 + 1);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match parse_mountinfo_line(line) {
            Ok(m) => mounts.push(m),
            Err(why) => {
                let mut shown = String::from_utf8_lossy(line).into_owned();
                if shown.len() > 200 {
                    let mut cut = 200;
                    while !shown.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    shown.truncate(cut);
                    shown.push_str("...");
                }
                return Err(Error::invalid(
                    format!("{origin}: line {}: '{shown}'", n + 1),
                    why,
                ));
            }
        }
    }
    Ok(mounts)
}

/// The mountinfo file of a process (`None`: the caller).
pub fn mountinfo_path(pid: Option<u32>) -> std::path::PathBuf {
    match pid {
        Some(pid) => format!("/proc/{pid}/mountinfo").into(),
        None => "/proc/self/mountinfo".into(),
    }
}

/// Read a process's mountinfo whole, with as few read(2) calls as the
/// kernel allows.
pub fn read_mountinfo(pid: Option<u32>) -> Result<Vec<u8>> {
    use std::io::Read;
    let path = mountinfo_path(pid);
    let mut file = std::fs::File::open(&path).what(|| format!("cannot open {}", path.display()))?;
    let mut text = Vec::with_capacity(1 << 20);
    file.read_to_end(&mut text)
        .what(|| format!("cannot read {}", path.display()))?;
    Ok(text)
}

/// The mounts as a forest, as findmnt draws it: each mount's children by
/// mount id, built with indices into the table (no per-node allocation).
pub struct MountTree {
    /// Mounts whose parent is not in the (selected) table, in table order.
    pub roots: Vec<usize>,
    child_start: Vec<u32>,
    child_list: Vec<u32>,
}

impl MountTree {
    /// Build the forest of the mounts `keep` selects (all when `None`); a
    /// selected mount whose parent is not selected is a root.
    pub fn build(mounts: &[MountEntry<'_>], keep: Option<&[bool]>) -> MountTree {
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        let mut index = std::collections::HashMap::with_capacity(mounts.len());
        for (i, m) in mounts.iter().enumerate() {
            if kept(i) {
                index.entry(m.id).or_insert(i);
            }
        }
        let parent_of: Vec<Option<usize>> = mounts
            .iter()
            .enumerate()
            .map(|(i, m)| match index.get(&m.parent) {
                Some(&p) if kept(i) && p != i => Some(p),
                _ => None,
            })
            .collect();
        let mut child_start = vec![0u32; mounts.len() + 1];
        for p in parent_of.iter().flatten() {
            child_start[p + 1] += 1;
        }
        for i in 0..mounts.len() {
            child_start[i + 1] += child_start[i];
        }
        let mut fill = child_start.clone();
        let mut child_list = vec![0u32; child_start[mounts.len()] as usize];
        let mut roots = Vec::new();
        for (i, p) in parent_of.iter().enumerate() {
            match p {
                Some(p) => {
                    child_list[fill[*p] as usize] = i as u32;
                    fill[*p] += 1;
                }
                None if kept(i) => roots.push(i),
                None => {}
            }
        }
        // findmnt (libmount) lists children by mount id, not table order:
        // ids are reused, so the two differ once mounts come and go.
        for i in 0..mounts.len() {
            let (a, b) = (child_start[i] as usize, child_start[i + 1] as usize);
            if b - a > 1 {
                child_list[a..b].sort_unstable_by_key(|&c| mounts[c as usize].id);
            }
        }
        MountTree {
            roots,
            child_start,
            child_list,
        }
    }

    /// The children of mount `i`, by mount id.
    pub fn children(&self, i: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        let (a, b) = (
            self.child_start[i] as usize,
            self.child_start[i + 1] as usize,
        );
        self.child_list[a..b].iter().map(|&c| c as usize)
    }

    /// Visit the forest depth-first (children by mount id) without
    /// recursion: `visit(index, last)` where `last[d]` says whether the
    /// ancestor at depth `d` (the mount itself last) is the last of its
    /// siblings. Mounts in a parent cycle (impossible from a real kernel)
    /// are not reached.
    pub fn walk(&self, mut visit: impl FnMut(usize, &[bool])) {
        let mut last: Vec<bool> = Vec::new();
        // (node, depth, is last sibling)
        let mut stack: Vec<(usize, usize, bool)> = Vec::new();
        for (n, &r) in self.roots.iter().enumerate().rev() {
            stack.push((r, 0, n + 1 == self.roots.len()));
        }
        while let Some((node, depth, is_last)) = stack.pop() {
            last.truncate(depth);
            last.push(is_last);
            visit(node, &last);
            let kids = self.children(node);
            let count = kids.len();
            let start = stack.len();
            for (n, c) in kids.enumerate() {
                stack.push((c, depth + 1, n + 1 == count));
            }
            stack[start..].reverse();
        }
    }
}

/// What `statx(2)` says about where a path lives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PathMount {
    /// The id of the mount that holds the path (as in mountinfo).
    pub mount_id: u64,
    /// Whether the path is the root of that mount (a mount point).
    pub is_mount_root: bool,
}

/// The mount that holds `path`, and whether `path` is its root
/// (statx(2): STATX_MNT_ID and STATX_ATTR_MOUNT_ROOT, Linux 5.8).
pub fn mount_of(path: &Path) -> Result<PathMount> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(path.display().to_string(), "path holds a NUL byte"))?;
    statx_mount(libc::AT_FDCWD, &c, 0)
        .map_err(|e| e.with_what(format!("cannot access {}", path.display())))
}

/// The same for an absolute `path` as a process whose root directory is
/// `root` (`/proc/PID/root`) sees it: resolved with openat2(2)'s
/// RESOLVE_IN_ROOT, so its absolute symlinks stay inside that root.
pub fn mount_of_in_root(root: &Path, path: &Path) -> Result<PathMount> {
    use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
    use std::os::fd::AsRawFd;
    let what = || format!("cannot access {} under {}", path.display(), root.display());
    let dir = open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .what(|| format!("cannot open {}", root.display()))?;
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT);
    let file = match openat2(&dir, rel, how) {
        Ok(file) => file,
        // Before Linux 5.6: the plain path, symlinks resolved from our root.
        Err(nix::errno::Errno::ENOSYS) => return mount_of(&root.join(rel)),
        Err(errno) => return Err(Error::os(what(), errno)),
    };
    statx_mount(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH).map_err(|e| e.with_what(what()))
}

/// statx(2) for the mount id and the mount-root attribute (Linux 5.8).
fn statx_mount(dirfd: libc::c_int, path: &std::ffi::CStr, flags: libc::c_int) -> Result<PathMount> {
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `path` is NUL-terminated and `stx` points to a statx buffer
    // the kernel fills; both outlive the call.
    let rc = unsafe {
        libc::statx(
            dirfd,
            path.as_ptr(),
            flags,
            libc::STATX_MNT_ID,
            stx.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::os("statx", nix::errno::Errno::last()));
    }
    // SAFETY: statx succeeded, so the buffer is initialised.
    let stx = unsafe { stx.assume_init() };
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Error::os(
            "statx (no mount id: Linux 5.8 needed)",
            nix::errno::Errno::ENOSYS,
        ));
    }
    let root_bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok(PathMount {
        mount_id: stx.stx_mnt_id,
        is_mount_root: stx.stx_attributes_mask & root_bit != 0
            && stx.stx_attributes & root_bit != 0,
    })
}

/// Change the propagation of the mount at `path` (and, if `recursive`, of
/// every mount below it) with mount_setattr(2) (Linux 5.12), falling back
/// to mount(2) where the kernel lacks it.
pub fn set_propagation_attr(path: &Path, prop: Propagation, recursive: bool) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(path.display().to_string(), "path holds a NUL byte"))?;
    // c_ulong is 32 bits on some targets: the cast is not a no-op everywhere.
    #[allow(clippy::unnecessary_cast)]
    let attr = libc::mount_attr {
        attr_set: 0,
        attr_clr: 0,
        propagation: prop.flag().bits() as u64,
        userns_fd: 0,
    };
    let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: `c` is NUL-terminated and `attr` is a mount_attr of the size
    // passed; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ENOSYS => set_propagation(path, prop, recursive),
        errno => Err(Error::os(
            format!("cannot change {} filesystem propagation", path.display()),
            errno,
        )),
    }
}

/// The inode of a process's mount namespace (`/proc/PID/ns/mnt`).
pub fn mount_ns_inode(pid: Option<u32>) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/ns/mnt"),
        None => "/proc/self/ns/mnt".into(),
    };
    std::fs::metadata(&path)
        .map(|m| m.ino())
        .what(|| format!("cannot open {path}"))
}

/// The mount namespaces of the running processes, found through
/// `/proc/*/ns/mnt`.
#[derive(Debug, Default)]
pub struct MountNamespaces {
    /// `(namespace inode, lowest PID in it)`, by inode.
    pub found: Vec<(u64, u32)>,
    /// Processes the caller may not inspect (ptrace access mode): their
    /// namespaces are missing from `found` unless another process shows them.
    pub denied: usize,
}

/// One process per mount namespace of the running processes.
pub fn mount_namespaces() -> Result<MountNamespaces> {
    let mut seen: std::collections::BTreeMap<u64, u32> = Default::default();
    let mut denied = 0;
    let dir = std::fs::read_dir("/proc").what(|| "cannot read /proc".into())?;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        match mount_ns_inode(Some(pid)) {
            Ok(ino) => {
                let slot = seen.entry(ino).or_insert(pid);
                *slot = (*slot).min(pid);
            }
            Err(e)
                if matches!(
                    e.errno(),
                    Some(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM)
                ) =>
            {
                denied += 1
            }
            // A process that exited meanwhile.
            Err(_) => {}
        }
    }
    Ok(MountNamespaces {
        found: seen.into_iter().collect(),
        denied,
    })
}

/// How a mount is related, for propagation, to the one asked about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// The mount asked about.
    Own,
    /// In its peer group: mount events travel both ways.
    Peer,
    /// Receives its events: a slave of its group, or of a group reached so.
    Slave,
    /// Sends it events: its master's group, or that group's master, and on.
    Master,
}

impl Relation {
    pub fn word(self) -> &'static str {
        match self {
            Relation::Own => "self",
            Relation::Peer => "peer",
            Relation::Slave => "slave",
            Relation::Master => "master",
        }
    }
}

/// Where mount events travel, per mount_namespaces(7): an event under a
/// mount reaches its peer group, every slave of that group, and, when a
/// slave is shared itself, that slave's group and its slaves in turn; it
/// comes from the master's group and that group's own master. Peer group
/// numbers are global, so `spaces` may hold the tables of several mount
/// namespaces. Returns `(relation, (space, index))`: the mount `me` itself
/// first, then peers, slaves, masters.
pub fn reach(spaces: &[&[MountEntry<'_>]], me: (usize, usize)) -> Vec<(Relation, (usize, usize))> {
    use std::collections::HashSet;
    let all = || {
        spaces
            .iter()
            .enumerate()
            .flat_map(|(s, ms)| ms.iter().enumerate().map(move |(i, m)| ((s, i), m)))
    };
    let own = spaces[me.0][me.1].propagation;
    let mut found = vec![(Relation::Own, me)];
    let mut listed: HashSet<(usize, usize)> = HashSet::from([me]);
    // Sending: our group, then each shared slave's group.
    let mut groups: Vec<u64> = own.shared.into_iter().collect();
    let mut seen: HashSet<u64> = groups.iter().copied().collect();
    let mut k = 0;
    while let Some(&g) = groups.get(k) {
        let relation = if Some(g) == own.shared {
            Relation::Peer
        } else {
            Relation::Slave
        };
        for (at, m) in all() {
            let tags = m.propagation;
            if tags.shared == Some(g) && listed.insert(at) {
                found.push((relation, at));
            }
            if tags.master == Some(g) {
                if listed.insert(at) {
                    found.push((Relation::Slave, at));
                }
                if let Some(s) = tags.shared.filter(|s| seen.insert(*s)) {
                    groups.push(s);
                }
            }
        }
        k += 1;
    }
    // Receiving: our master's group, then its master's, and on.
    let mut groups: Vec<u64> = own.master.into_iter().collect();
    let mut seen: HashSet<u64> = groups.iter().copied().collect();
    let mut k = 0;
    while let Some(&g) = groups.get(k) {
        for (at, m) in all() {
            if m.propagation.shared == Some(g) {
                if listed.insert(at) {
                    found.push((Relation::Master, at));
                }
                if let Some(up) = m.propagation.master.filter(|u| seen.insert(*u)) {
                    groups.push(up);
                }
            }
        }
        k += 1;
    }
    found.sort_by_key(|(relation, _)| *relation);
    found
}

/// `path` below `dir` (as `a/b`, empty when equal), if it is below.
pub fn strip_dir<'p>(path: &'p [u8], dir: &[u8]) -> Option<&'p [u8]> {
    if dir == b"/" {
        return path.strip_prefix(b"/");
    }
    match path.strip_prefix(dir)? {
        [] => Some(&[]),
        [b'/', tail @ ..] => Some(tail),
        _ => None,
    }
}

/// Where `fs_path` (a path inside the filesystem, from its top) appears in
/// mount `m`: its mount point plus the rest below the mount's root. None
/// when the mount's root does not hold it: the kernel propagates nothing
/// there.
pub fn path_in_mount(m: &MountEntry<'_>, fs_path: &[u8]) -> Option<Vec<u8>> {
    let root = m.root.decode();
    let rest = strip_dir(fs_path, &root)?;
    let mut at = m.mount_point.decode().into_owned();
    if !rest.is_empty() {
        if at.last() != Some(&b'/') {
            at.push(b'/');
        }
        at.extend_from_slice(rest);
    }
    Some(at)
}

#[cfg(test)]
mod mountinfo_tests {
    use super::*;

    const LINE: &[u8] = b"86 83 0:43 /s\\040t /tmp/a\\040b\\012c rw,relatime shared:7 master:1 propagate_from:2 unbindable future:9 - tmpfs my\\134src rw,size=4k";

    #[test]
    fn every_field_is_read_and_escapes_decoded() {
        let m = parse_mountinfo_line(LINE).unwrap();
        assert_eq!((m.id, m.parent, m.major, m.minor), (86, 83, 0, 43));
        assert_eq!(&*m.root.decode(), b"/s t");
        assert_eq!(&*m.mount_point.decode(), b"/tmp/a b\nc");
        assert_eq!(&*m.options.decode(), b"rw,relatime");
        assert_eq!(
            m.optional,
            b"shared:7 master:1 propagate_from:2 unbindable future:9"
        );
        assert_eq!(
            m.propagation,
            PropagationTags {
                shared: Some(7),
                master: Some(1),
                propagate_from: Some(2),
                unbindable: true
            }
        );
        assert_eq!(&*m.fstype.decode(), b"tmpfs");
        assert_eq!(&*m.source.decode(), b"my\\src");
        assert_eq!(&*m.super_options.decode(), b"rw,size=4k");
        assert_eq!(
            m.propagation.to_string(),
            "shared:7,master:1,propagate_from:2,unbindable"
        );
        assert_eq!(m.propagation.mode(), "shared,slave,unbindable");
    }

    #[test]
    fn no_optional_fields_is_private() {
        let m = parse_mountinfo_line(b"1 0 8:1 / / rw - ext4 /dev/sda1 rw").unwrap();
        assert!(m.optional.is_empty());
        assert!(m.propagation.is_private());
        assert_eq!(m.propagation.to_string(), "private");
        assert_eq!(m.propagation.mode(), "private");
    }

    #[test]
    fn an_empty_source_is_kept_empty() {
        let m = parse_mountinfo_line(b"1 0 8:1 / / rw - ext4  rw").unwrap();
        assert_eq!(m.source.raw(), b"");
        assert_eq!(m.super_options.raw(), b"rw");
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        for bad in [
            &b"x 0 8:1 / / rw - ext4 /dev/sda1 rw"[..],
            b"1 0 81 / / rw - ext4 /dev/sda1 rw",
            b"1 0 8:1 / / rw ext4 /dev/sda1 rw",
            b"1 0 8:1 / / rw - ext4 /dev/sda1",
            b"1 0 8:1 / / rw shared: - ext4 /dev/sda1 rw",
            b"1 0 8:1 / / rw shared:1 shared:2 - ext4 /dev/sda1 rw",
            b"1 0 8:1 / / rw master - ext4 /dev/sda1 rw",
            b"1 0 99999999999:1 / / rw - ext4 /dev/sda1 rw",
            b"1 0 8:1",
        ] {
            assert!(
                parse_mountinfo_line(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let text = b"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:1 / /x rw - ext4\n";
        let err = parse_mountinfo(text, "/proc/self/mountinfo").unwrap_err();
        assert!(
            err.to_string().contains("/proc/self/mountinfo: line 2"),
            "{err}"
        );
    }

    #[test]
    fn a_lone_backslash_stands_for_itself() {
        assert_eq!(&*Escaped(b"a\\9b\\").decode(), b"a\\9b\\");
        assert_eq!(&*Escaped(b"\\400").decode(), b"\\400");
        assert_eq!(&*Escaped(b"\\011").decode(), b"\t");
    }

    #[test]
    fn events_reach_peers_and_slaves_of_slaves_and_come_from_masters() {
        // a (group 1) peers with b in another namespace; c is a slave of 1
        // and shared as 2; d a slave of 2; e private; a's master is m
        // (group 9), whose master is n (group 8).
        let one = b"1 0 0:1 / / rw - t s o
10 1 0:2 / /a rw shared:1 master:9 - t s o
11 1 0:2 /sub /c rw shared:2 master:1 - t s o
12 1 0:2 / /d rw master:2 - t s o
13 1 0:2 / /e rw - t s o
14 1 0:2 / /m rw shared:9 master:8 - t s o
15 1 0:2 / /n rw shared:8 - t s o
";
        let two = b"20 20 0:1 / / rw - t s o
21 20 0:2 / /b rw shared:1 master:9 - t s o
";
        let one = parse_mountinfo(one, "one").unwrap();
        let two = parse_mountinfo(two, "two").unwrap();
        let spaces = [&one[..], &two[..]];
        let name = |(s, i): (usize, usize)| spaces[s][i].mount_point.to_path();
        let found: Vec<(Relation, String)> = reach(&spaces, (0, 1))
            .into_iter()
            .map(|(r, at)| (r, name(at).display().to_string()))
            .collect();
        let want = [
            (Relation::Own, "/a"),
            (Relation::Peer, "/b"),
            (Relation::Slave, "/c"),
            (Relation::Slave, "/d"),
            (Relation::Master, "/m"),
            (Relation::Master, "/n"),
        ];
        let want: Vec<(Relation, String)> = want.iter().map(|(r, p)| (*r, p.to_string())).collect();
        assert_eq!(found, want);
        // d only receives: from c's group, then a's, then m's, then n's.
        let found: Vec<Relation> = reach(&spaces, (0, 3)).into_iter().map(|(r, _)| r).collect();
        assert_eq!(
            found,
            [
                Relation::Own,
                Relation::Master,
                Relation::Master,
                Relation::Master,
                Relation::Master,
                Relation::Master
            ]
        );
        // A private mount reaches nothing.
        assert_eq!(reach(&spaces, (0, 4)).len(), 1);
        // c's root is /sub: a mount at /a/sub/x shows at /c/x, /a/x misses c.
        assert_eq!(path_in_mount(&one[2], b"/sub/x"), Some(b"/c/x".to_vec()));
        assert_eq!(path_in_mount(&one[2], b"/x"), None);
        assert_eq!(path_in_mount(&one[2], b"/subx"), None);
        assert_eq!(path_in_mount(&one[1], b"/"), Some(b"/a".to_vec()));
    }

    #[test]
    fn the_tree_orders_children_by_id_and_survives_cycles() {
        let text = b"3 1 0:1 / /b rw - t s o\n1 9 0:1 / / rw - t s o\n2 1 0:1 / /a rw - t s o\n4 2 0:1 / /a/c rw - t s o\n5 6 0:1 / /x rw - t s o\n6 5 0:1 / /y rw - t s o\n";
        let mounts = parse_mountinfo(text, "t").unwrap();
        let tree = MountTree::build(&mounts, None);
        let mut seen = Vec::new();
        tree.walk(|i, last| seen.push((mounts[i].id, last.to_vec())));
        assert_eq!(
            seen,
            [
                (1, vec![true]),
                (2, vec![true, false]),
                (4, vec![true, false, true]),
                (3, vec![true, true]),
            ]
        );
    }
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
