//! `mountprop`: see and change mount propagation, and where a mount event
//! will travel. The kernel's only record is the optional fields of
//! `/proc/PID/mountinfo` (`shared:N`, `master:N`, `propagate_from:N`,
//! `unbindable`); this applet prints them as they are, changes them with
//! mount_setattr(2), and follows peer groups across mount namespaces.

use std::borrow::Cow;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use clap::{
    ArgMatches, Args as ClapArgs, Command, CommandFactory, FromArgMatches, Parser, Subcommand,
};
use nix::errno::Errno;

use crate::sys::mount::{self, MountEntry, MountTree, Propagation, Relation};
use crate::sys::process::Exit;
use crate::usage;

/// See and change mount propagation, and where a mount event will travel.
#[derive(Parser, Debug)]
#[command(
    name = "mountprop",
    override_usage = "mountprop [options] [<path>...]",
    after_help = "PROPAGATION is the kernel's own record: shared:N (member of peer group N), \
                  master:N (slave of group N), propagate_from:N, unbindable, joined by commas; \
                  'private' when there is none. MODE is findmnt's summary of it.\n\n\
                  Columns: TARGET PROPAGATION FSTYPE SOURCE ID PARENT PEER MASTER FROM MODE \
                  FSROOT MAJ:MIN OPTIONS FS-OPTIONS (default: TARGET,PROPAGATION,FSTYPE,SOURCE).",
    version,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true,
    max_term_width = 80
)]
pub struct Args {
    #[command(subcommand)]
    verb: Option<Verb>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List mounts with their propagation (the default)
    #[command(override_usage = "mountprop list [options] [<path>...]")]
    List(ListArgs),
    /// Print the propagation and mount point of the mount holding PATH
    #[command(override_usage = "mountprop get [-t <pid>] <path>")]
    Get(GetArgs),
    /// Change the propagation of mounts
    #[command(
        override_usage = "mountprop set [options] shared|private|slave|unbindable <path>..."
    )]
    Set(SetArgs),
    /// Show which mounts receive a mount event made under PATH, and whom PATH receives from
    #[command(override_usage = "mountprop peers [options] <path>")]
    Peers(PeersArgs),
}

#[derive(ClapArgs, Debug)]
struct ListArgs {
    /// Print a flat table instead of a tree
    #[arg(short = 'l', long = "list")]
    flat: bool,
    /// Print JSON
    #[arg(short = 'J', long = "json")]
    json: bool,
    /// Do not print a header line
    #[arg(short = 'n', long = "noheadings")]
    noheadings: bool,
    /// Columns to print, comma-separated (+COL,... appends to the default)
    #[arg(short = 'o', long = "output", value_name = "COLUMNS")]
    output: Option<String>,
    /// Print every column
    #[arg(long = "output-all", conflicts_with = "output")]
    output_all: bool,
    /// Read the mount namespace of process PID
    #[arg(short = 't', long = "task", value_name = "PID")]
    task: Option<u32>,
    /// Only the mounts holding PATH and those below it
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(ClapArgs, Debug)]
struct GetArgs {
    /// Read the mount namespace of process PID
    #[arg(short = 't', long = "task", value_name = "PID")]
    task: Option<u32>,
    /// A path inside the mount to show
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

#[derive(ClapArgs, Debug)]
struct SetArgs {
    /// The new propagation
    #[arg(
        value_name = "shared|private|slave|unbindable",
        value_parser = ModeWord,
        hide_possible_values = true
    )]
    mode: String,
    /// Change every mount below PATH too
    #[arg(short = 'r', long = "recursive")]
    recursive: bool,
    /// Make PATH a mount point first (mount --rbind PATH PATH) when it is not one
    #[arg(long = "bind-self")]
    bind_self: bool,
    /// Mount points to change (all are checked before any is changed)
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

/// The mode word of `set`, offered to shell completion; `set` checks it
/// itself, so a wrong one is reported in its own words.
#[derive(Clone)]
struct ModeWord;

impl clap::builder::TypedValueParser for ModeWord {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let words = ["shared", "private", "slave", "unbindable"];
        Some(Box::new(
            words.into_iter().map(clap::builder::PossibleValue::new),
        ))
    }
}

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "RELATION: self (the mount holding PATH); peer (its peer group: events travel \
                        both ways); slave (receives from it, directly or through other slaves); \
                        master (sends to it). AT: the place of PATH in that mount: for peers and \
                        slaves where a mount made at PATH appears, for masters where a mount \
                        made reaches PATH; '-' when that mount's root does not hold PATH (no \
                        event travels between the two there). NS and PID: the mount \
                        namespace's inode and one process in it."
)]
struct PeersArgs {
    /// Look in the mount namespace of every running process
    #[arg(short = 'a', long = "all-namespaces")]
    all_namespaces: bool,
    /// Start from the mount namespace of process PID
    #[arg(short = 't', long = "task", value_name = "PID")]
    task: Option<u32>,
    /// Print JSON
    #[arg(short = 'J', long = "json")]
    json: bool,
    /// Do not print a header line
    #[arg(short = 'n', long = "noheadings")]
    noheadings: bool,
    /// A path under which a mount event would be made
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

pub fn command() -> Command {
    Args::command()
}

/// The command line checked as `run` checks it, before the mount table
/// is read (the fuzzer's entry).
pub fn validate(m: &ArgMatches) -> Result<()> {
    let args = Args::from_arg_matches(m)?;
    match args.verb {
        None => check_columns(&args.list)?,
        Some(Verb::List(a)) => check_columns(&a)?,
        Some(Verb::Set(a)) => {
            parse_mode(&a.mode)?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn check_columns(a: &ListArgs) -> Result<()> {
    if !a.output_all {
        Column::parse_list(a.output.as_deref())?;
    }
    Ok(())
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    let args = Args::from_arg_matches_mut(m)?;
    match args.verb {
        None => list(args.list),
        Some(Verb::List(a)) => list(a),
        Some(Verb::Get(a)) => get(a),
        Some(Verb::Set(a)) => set(a),
        Some(Verb::Peers(a)) => peers(a),
    }
}

fn list(a: ListArgs) -> Result<Exit> {
    let columns = match a.output_all {
        true => ALL_COLUMNS.to_vec(),
        false => Column::parse_list(a.output.as_deref())?,
    };
    let text = read_table(a.task)?;
    let mounts = parse_table(&text, a.task)?;
    let keep = if a.paths.is_empty() {
        None
    } else {
        Some(select_below(&mounts, &a.paths, a.task)?)
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let table = Table::new(&mounts, &columns, keep.as_deref());
    let written = match (a.json, a.flat) {
        (true, flat) => table.write_json(&mut out, !flat),
        (false, true) => table.write_text(&mut out, false, !a.noheadings),
        (false, false) => table.write_text(&mut out, true, !a.noheadings),
    };
    finish_output(written.and_then(|_| out.flush()))
}

fn get(a: GetArgs) -> Result<Exit> {
    let text = read_table(a.task)?;
    let mounts = parse_table(&text, a.task)?;
    let (i, _) = holding_mount(&mounts, &a.path, a.task)?;
    let mut line = Vec::new();
    mounts[i].propagation.write_tags(&mut line);
    line.push(b' ');
    push_display(&mut line, &mounts[i].mount_point.decode());
    line.push(b'\n');
    finish_output(std::io::stdout().lock().write_all(&line))
}

fn parse_mode(word: &str) -> Result<Propagation> {
    let Some(prop) = Propagation::parse(word) else {
        usage!("unknown propagation '{word}' (expected shared, private, slave or unbindable)")
    };
    Ok(prop)
}

fn set(a: SetArgs) -> Result<Exit> {
    let prop = parse_mode(&a.mode)?;
    // Check every path before changing any, so a bad one changes nothing.
    let text = read_table(None)?;
    let mounts = parse_table(&text, None)?;
    let mut bind_first = Vec::with_capacity(a.paths.len());
    for path in &a.paths {
        let at = mount::mount_of(path)?;
        if !mounts.iter().any(|m| m.id == at.mount_id) {
            // mount(2) would refuse it (EINVAL) after earlier paths changed.
            anyhow::bail!(
                "{} is on a mount of another mount namespace (enter it first: nsenter -m -t PID)",
                path.display()
            );
        }
        if !at.is_mount_root && !a.bind_self {
            anyhow::bail!(
                "{} is not a mount point (make it one with 'mount --bind {0} {0}', or add --bind-self)",
                path.display()
            );
        }
        bind_first.push(!at.is_mount_root);
    }
    for (path, bind) in a.paths.iter().zip(bind_first) {
        if bind {
            mount::rbind(path, path)?;
        }
        if let Err(e) = mount::set_propagation_attr(path, prop, a.recursive) {
            if bind {
                let _ = mount::unmount(path, true);
            }
            return Err(match e.errno() {
                Some(Errno::EPERM) => e
                    .hinted(
                        "needs CAP_SYS_ADMIN over the mount namespace: run as root, or inside \
                         'unshare -rm'",
                    )
                    .into(),
                _ => e.into(),
            });
        }
    }
    Ok(Exit::SUCCESS)
}

fn peers(a: PeersArgs) -> Result<Exit> {
    let home_ns = mount::mount_ns_inode(a.task).map_err(|e| explain_task(e, a.task))?;
    let home_pid = a.task.unwrap_or_else(std::process::id);
    // Each namespace read once: (inode, one PID in it, its mountinfo).
    let mut spaces: Vec<(u64, u32, Vec<u8>)> = vec![(home_ns, home_pid, read_table(a.task)?)];
    if a.all_namespaces {
        let spaces_found = mount::mount_namespaces()?;
        if spaces_found.denied > 0 {
            let n = spaces_found.denied;
            eprintln!(
                "mountprop: note: {n} {} could not be inspected (Permission denied): mount \
                 namespaces only {} in are not shown",
                if n == 1 { "process" } else { "processes" },
                if n == 1 { "it is" } else { "they are" },
            );
        }
        for (ino, pid) in spaces_found.found {
            if ino == home_ns {
                // Name our namespace by its longest-lived process, not by us.
                spaces[0].1 = pid;
                continue;
            }
            // A process that exits while we look is no longer a namespace to report.
            if let Ok(text) = mount::read_mountinfo(Some(pid)) {
                spaces.push((ino, pid, text));
            }
        }
    }
    let mut tables = Vec::with_capacity(spaces.len());
    for (ino, pid, text) in &spaces {
        let origin = mount::mountinfo_path(Some(*pid));
        tables.push((
            *ino,
            *pid,
            mount::parse_mountinfo(text, &origin.to_string_lossy())?,
        ));
    }
    let (me, fs_path) = holding_mount(&tables[0].2, &a.path, a.task)?;
    let views: Vec<&[MountEntry<'_>]> = tables.iter().map(|(_, _, t)| &t[..]).collect();
    let found = mount::reach(&views, (0, me));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if a.json {
        write_peers_json(&mut out, &tables, &found, &fs_path)
    } else {
        write_peers_text(&mut out, &tables, &found, &fs_path, !a.noheadings)
    };
    finish_output(written.and_then(|_| out.flush()))
}

// ---------------------------------------------------------------------------
// Reading the table and finding paths in it.

fn read_table(task: Option<u32>) -> Result<Vec<u8>> {
    mount::read_mountinfo(task).map_err(|e| explain_task(e, task))
}

fn parse_table(text: &[u8], task: Option<u32>) -> Result<Vec<MountEntry<'_>>> {
    let origin = mount::mountinfo_path(task);
    Ok(mount::parse_mountinfo(text, &origin.to_string_lossy())?)
}

fn explain_task(e: crate::sys::Error, task: Option<u32>) -> anyhow::Error {
    match (task, e.errno()) {
        (Some(pid), Some(Errno::ENOENT)) => {
            anyhow::anyhow!("cannot read the mounts of PID {pid}: No such process")
        }
        _ => e.into(),
    }
}

/// Which mount holds `path` as the process `task` (if any) sees it.
fn locate(path: &Path, task: Option<u32>) -> Result<mount::PathMount> {
    match task {
        None => Ok(mount::mount_of(path)?),
        Some(_) if !path.is_absolute() => {
            usage!(
                "with --task, PATH must be absolute, not '{}'",
                path.display()
            )
        }
        Some(pid) => {
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            // The table was read first: a missing PID has been reported.
            Ok(mount::mount_of_in_root(&root, path).map_err(|e| {
                e.with_what(format!(
                    "cannot access {} as PID {pid} sees it",
                    path.display()
                ))
            })?)
        }
    }
}

/// The mount holding `path` (the top one where mounts are stacked), and
/// where `path` lies inside that mount's filesystem (its root plus the rest
/// of the path).
fn holding_mount(
    mounts: &[MountEntry<'_>],
    path: &Path,
    task: Option<u32>,
) -> Result<(usize, Vec<u8>)> {
    let at = locate(path, task).map_err(|e| {
        if !path.exists() && path.components().count() == 1 && task.is_none() {
            let word = path.display();
            anyhow::Error::new(crate::applets::UsageError(format!(
                "unknown command or path '{word}' (commands: list, get, set, peers)"
            )))
        } else {
            e
        }
    })?;
    let Some(i) = mounts.iter().rposition(|m| m.id == at.mount_id) else {
        anyhow::bail!(
            "{} is on a mount (id {}) that {} does not list: one of another mount namespace \
             (see it with -t PID), or one made or removed meanwhile",
            path.display(),
            at.mount_id,
            mount::mountinfo_path(task).display()
        )
    };
    let m = &mounts[i];
    let mut fs_path = m.root.decode().into_owned();
    if !at.is_mount_root {
        let full = match task {
            None => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            Some(_) => normalize(path),
        };
        let mp = m.mount_point.decode();
        let full = full.as_os_str().as_bytes();
        if let Some(rest) = mount::strip_dir(full, &mp) {
            if !rest.is_empty() {
                if fs_path.last() != Some(&b'/') {
                    fs_path.push(b'/');
                }
                fs_path.extend_from_slice(rest);
            }
        }
    }
    Ok((i, fs_path))
}

/// Lexical normalisation, for paths of another process that we cannot
/// resolve through our own root.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// For `list PATH...`: the mounts holding each PATH and every mount at or
/// below it.
fn select_below(
    mounts: &[MountEntry<'_>],
    paths: &[PathBuf],
    task: Option<u32>,
) -> Result<Vec<bool>> {
    let mut keep = vec![false; mounts.len()];
    for path in paths {
        let (i, _) = holding_mount(mounts, path, task)?;
        keep[i] = true;
        let anchor: Vec<u8> = if locate(path, task)?.is_mount_root {
            mounts[i].mount_point.decode().into_owned()
        } else {
            match task {
                None => std::fs::canonicalize(path)
                    .with_context(|| format!("cannot access {}", path.display()))?,
                Some(_) => normalize(path),
            }
            .into_os_string()
            .into_vec()
        };
        for (k, m) in mounts.iter().enumerate() {
            if mount::strip_dir(&m.mount_point.decode(), &anchor).is_some() {
                keep[k] = true;
            }
        }
    }
    Ok(keep)
}

/// A closed stdout (`| head`) is not an error worth a message.
fn finish_output(r: std::io::Result<()>) -> Result<Exit> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::SUCCESS),
        Err(e) => match e.raw_os_error() {
            Some(n) => Err(anyhow::anyhow!(
                "write error: {}",
                Errno::from_raw(n).desc()
            )),
            None => Err(anyhow::anyhow!("write error: {e}")),
        },
        Ok(()) => Ok(Exit::SUCCESS),
    }
}

// ---------------------------------------------------------------------------
// The table: columns, cells, tree and JSON.

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Column {
    Target,
    Propagation,
    Fstype,
    Source,
    Id,
    Parent,
    Peer,
    Master,
    From,
    Mode,
    Fsroot,
    MajMin,
    Options,
    FsOptions,
}

const ALL_COLUMNS: [Column; 14] = [
    Column::Target,
    Column::Propagation,
    Column::Fstype,
    Column::Source,
    Column::Id,
    Column::Parent,
    Column::Peer,
    Column::Master,
    Column::From,
    Column::Mode,
    Column::Fsroot,
    Column::MajMin,
    Column::Options,
    Column::FsOptions,
];

const DEFAULT_COLUMNS: [Column; 4] = [
    Column::Target,
    Column::Propagation,
    Column::Fstype,
    Column::Source,
];

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Target => "TARGET",
            Column::Propagation => "PROPAGATION",
            Column::Fstype => "FSTYPE",
            Column::Source => "SOURCE",
            Column::Id => "ID",
            Column::Parent => "PARENT",
            Column::Peer => "PEER",
            Column::Master => "MASTER",
            Column::From => "FROM",
            Column::Mode => "MODE",
            Column::Fsroot => "FSROOT",
            Column::MajMin => "MAJ:MIN",
            Column::Options => "OPTIONS",
            Column::FsOptions => "FS-OPTIONS",
        }
    }

    fn is_number(self) -> bool {
        matches!(
            self,
            Column::Id | Column::Parent | Column::Peer | Column::Master | Column::From
        )
    }

    /// `-o` as findmnt takes it: names in any case, comma-separated; a
    /// leading `+` appends to the default columns.
    fn parse_list(spec: Option<&str>) -> Result<Vec<Column>> {
        let Some(spec) = spec else {
            return Ok(DEFAULT_COLUMNS.to_vec());
        };
        let (mut columns, spec) = match spec.strip_prefix('+') {
            Some(rest) => (DEFAULT_COLUMNS.to_vec(), rest),
            None => (Vec::new(), spec),
        };
        for word in spec.split(',') {
            match ALL_COLUMNS
                .iter()
                .find(|c| c.name().eq_ignore_ascii_case(word))
            {
                Some(c) => columns.push(*c),
                None => usage!("unknown column: '{word}'"),
            }
        }
        Ok(columns)
    }

    /// The number a numeric column holds, if any.
    fn number(self, m: &MountEntry<'_>) -> Option<u64> {
        match self {
            Column::Id => Some(m.id),
            Column::Parent => Some(m.parent),
            Column::Peer => m.propagation.shared,
            Column::Master => m.propagation.master,
            Column::From => m.propagation.propagate_from,
            _ => None,
        }
    }

    /// Append the cell's decoded bytes (before display escaping).
    fn raw_value<'a>(self, m: &MountEntry<'a>, scratch: &'a mut Vec<u8>) -> Cow<'a, [u8]> {
        match self {
            Column::Target => m.mount_point.decode(),
            Column::Fstype => m.fstype.decode(),
            Column::Source => m.source.decode(),
            Column::Fsroot => m.root.decode(),
            Column::Options => m.options.decode(),
            Column::FsOptions => m.super_options.decode(),
            Column::Mode => Cow::Borrowed(m.propagation.mode().as_bytes()),
            Column::Propagation => {
                scratch.clear();
                m.propagation.write_tags(scratch);
                Cow::Borrowed(&scratch[..])
            }
            Column::MajMin => {
                scratch.clear();
                mount::push_u64(scratch, u64::from(m.major));
                scratch.push(b':');
                mount::push_u64(scratch, u64::from(m.minor));
                Cow::Borrowed(&scratch[..])
            }
            _ => {
                scratch.clear();
                if let Some(n) = self.number(m) {
                    mount::push_u64(scratch, n);
                }
                Cow::Borrowed(&scratch[..])
            }
        }
    }
}

/// Append `bytes` for a terminal: control characters, backslashes and
/// bytes that are not UTF-8 as `\xHH`, so one mount is one line whatever
/// its name holds.
fn push_display(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        out.extend_from_slice(bytes);
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    push_hex(out, b);
                }
            } else {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        for &b in chunk.invalid() {
            push_hex(out, b);
        }
    }
}

fn push_hex(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

/// Characters (not bytes) in valid UTF-8.
fn width(text: &[u8]) -> usize {
    text.iter().filter(|&&b| (b & 0xc0) != 0x80).count()
}

/// Append `bytes` as a JSON string (not UTF-8: replaced, as JSON cannot hold raw bytes).
fn push_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

struct Table<'t, 'a> {
    mounts: &'t [MountEntry<'a>],
    columns: &'t [Column],
    tree: MountTree,
}

/// Tree glyphs: findmnt's, in UTF-8 when the locale is, else ASCII.
struct Glyphs {
    branch: &'static str,
    last: &'static str,
    pipe: &'static str,
    blank: &'static str,
}

impl Glyphs {
    fn for_locale() -> Glyphs {
        let codeset = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if codeset.contains("utf-8") || codeset.contains("utf8") {
            Glyphs {
                branch: "├─",
                last: "└─",
                pipe: "│ ",
                blank: "  ",
            }
        } else {
            Glyphs {
                branch: "|-",
                last: "`-",
                pipe: "| ",
                blank: "  ",
            }
        }
    }
}

impl<'t, 'a> Table<'t, 'a> {
    fn new(mounts: &'t [MountEntry<'a>], columns: &'t [Column], keep: Option<&[bool]>) -> Self {
        Table {
            mounts,
            columns,
            tree: MountTree::build(mounts, keep),
        }
    }

    /// The rows in output order: tree order (depth-first), or table order
    /// for a flat list; with the tree prefix of each.
    fn order(&self, tree: bool, mut each: impl FnMut(usize, &[bool])) {
        if tree {
            self.tree.walk(each);
        } else {
            // Flat: every selected mount in table order; the forest holds
            // exactly the selected ones.
            let mut selected = vec![false; self.mounts.len()];
            self.tree.walk(|i, _| selected[i] = true);
            for (i, _) in selected.iter().enumerate().filter(|(_, s)| **s) {
                each(i, &[true]);
            }
        }
    }

    /// Aligned columns, as findmnt prints them: every cell rendered once
    /// into one buffer, then written with padding.
    fn write_text(&self, out: &mut impl Write, tree: bool, header: bool) -> std::io::Result<()> {
        let ncol = self.columns.len();
        let glyphs = Glyphs::for_locale();
        let mut cells: Vec<u8> = Vec::with_capacity(self.mounts.len() * 64);
        // Per cell: its end offset in `cells` and its width.
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(self.mounts.len() * ncol);
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.name().len()).collect();
        let mut scratch = Vec::new();
        self.order(tree, |i, last| {
            let m = &self.mounts[i];
            for (k, col) in self.columns.iter().enumerate() {
                let start = cells.len();
                if *col == Column::Target && tree && last.len() > 1 {
                    for &l in &last[1..last.len() - 1] {
                        cells.extend_from_slice(
                            if l { glyphs.blank } else { glyphs.pipe }.as_bytes(),
                        );
                    }
                    let own = if last[last.len() - 1] {
                        glyphs.last
                    } else {
                        glyphs.branch
                    };
                    cells.extend_from_slice(own.as_bytes());
                }
                let value = col.raw_value(m, &mut scratch);
                push_display(&mut cells, &value);
                let w = width(&cells[start..]);
                widths[k] = widths[k].max(w);
                ends.push((cells.len() as u32, w as u32));
            }
        });
        let mut line: Vec<u8> = Vec::with_capacity(256);
        let pad = |line: &mut Vec<u8>, n: usize| line.resize(line.len() + n, b' ');
        if header {
            for (k, col) in self.columns.iter().enumerate() {
                let name = col.name();
                let fill = widths[k] - name.len();
                if col.is_number() {
                    pad(&mut line, fill);
                }
                line.extend_from_slice(name.as_bytes());
                if k + 1 < ncol {
                    if !col.is_number() {
                        pad(&mut line, fill);
                    }
                    line.push(b' ');
                }
            }
            line.push(b'\n');
            out.write_all(&line)?;
        }
        let mut start = 0usize;
        for row in ends.chunks(ncol) {
            line.clear();
            for (k, &(end, w)) in row.iter().enumerate() {
                let col = self.columns[k];
                let fill = widths[k] - w as usize;
                if col.is_number() {
                    pad(&mut line, fill);
                }
                line.extend_from_slice(&cells[start..end as usize]);
                start = end as usize;
                if k + 1 < ncol {
                    if !col.is_number() {
                        pad(&mut line, fill);
                    }
                    line.push(b' ');
                }
            }
            line.push(b'\n');
            out.write_all(&line)?;
        }
        Ok(())
    }

    /// `{"mounts": [...]}`, nested through "children" for a tree.
    fn write_json(&self, out: &mut impl Write, tree: bool) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(self.mounts.len() * 128);
        buf.extend_from_slice(b"{\"mounts\":[");
        // `"target":` and the like, made once.
        let keys: Vec<Vec<u8>> = self
            .columns
            .iter()
            .map(|c| {
                let mut key = Vec::new();
                push_json_string(&mut key, c.name().to_ascii_lowercase().as_bytes());
                key.push(b':');
                key
            })
            .collect();
        let mut prev_depth: Option<usize> = None;
        let mut scratch = Vec::new();
        self.order(tree, |i, last| {
            let depth = if tree { last.len() - 1 } else { 0 };
            match prev_depth {
                None => buf.push(b'{'),
                Some(p) if depth == p + 1 => buf.extend_from_slice(b",\"children\":[{"),
                Some(p) => {
                    for _ in depth..p {
                        buf.extend_from_slice(b"}]");
                    }
                    buf.extend_from_slice(b"},\n{");
                }
            }
            prev_depth = Some(depth);
            let m = &self.mounts[i];
            for (k, col) in self.columns.iter().enumerate() {
                if k > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(&keys[k]);
                if col.is_number() {
                    match col.number(m) {
                        Some(n) => mount::push_u64(&mut buf, n),
                        None => buf.extend_from_slice(b"null"),
                    }
                } else {
                    let value = col.raw_value(m, &mut scratch);
                    push_json_string(&mut buf, &value);
                }
            }
        });
        if let Some(p) = prev_depth {
            for _ in 0..p {
                buf.extend_from_slice(b"}]");
            }
            buf.push(b'}');
        }
        buf.extend_from_slice(b"]}\n");
        out.write_all(&buf)
    }
}

// ---------------------------------------------------------------------------
// Peers: where a mount event travels.

/// The mount namespaces read: (inode, one PID in it, its mounts).
type Tables<'a> = [(u64, u32, Vec<MountEntry<'a>>)];

const PEER_COLUMNS: [&str; 7] = ["RELATION", "NS", "PID", "ID", "TARGET", "AT", "PROPAGATION"];

fn peer_cells(
    tables: &Tables<'_>,
    (relation, (t, i)): (Relation, (usize, usize)),
    fs_path: &[u8],
) -> [Vec<u8>; 7] {
    let (ns, pid, mounts) = &tables[t];
    let m = &mounts[i];
    let num = |n: u64| {
        let mut v = Vec::new();
        mount::push_u64(&mut v, n);
        v
    };
    let mut target = Vec::new();
    push_display(&mut target, &m.mount_point.decode());
    let mut at = Vec::new();
    match mount::path_in_mount(m, fs_path) {
        Some(p) => push_display(&mut at, &p),
        None => at.push(b'-'),
    }
    let mut tags = Vec::new();
    m.propagation.write_tags(&mut tags);
    [
        relation.word().as_bytes().to_vec(),
        num(*ns),
        num(u64::from(*pid)),
        num(m.id),
        target,
        at,
        tags,
    ]
}

fn write_peers_text(
    out: &mut impl Write,
    tables: &Tables<'_>,
    found: &[(Relation, (usize, usize))],
    fs_path: &[u8],
    header: bool,
) -> std::io::Result<()> {
    let rows: Vec<[Vec<u8>; 7]> = found
        .iter()
        .map(|f| peer_cells(tables, *f, fs_path))
        .collect();
    let mut widths: Vec<usize> = PEER_COLUMNS.iter().map(|c| c.len()).collect();
    for row in &rows {
        for (k, cell) in row.iter().enumerate() {
            widths[k] = widths[k].max(width(cell));
        }
    }
    let mut write_row = |cells: &[&[u8]]| -> std::io::Result<()> {
        let mut line = Vec::new();
        for (k, cell) in cells.iter().enumerate() {
            line.extend_from_slice(cell);
            if k + 1 < cells.len() {
                line.resize(line.len() + widths[k] - width(cell) + 1, b' ');
            }
        }
        line.push(b'\n');
        out.write_all(&line)
    };
    if header {
        let names: Vec<&[u8]> = PEER_COLUMNS.iter().map(|c| c.as_bytes()).collect();
        write_row(&names)?;
    }
    for row in &rows {
        let cells: Vec<&[u8]> = row.iter().map(|c| &c[..]).collect();
        write_row(&cells)?;
    }
    Ok(())
}

fn write_peers_json(
    out: &mut impl Write,
    tables: &Tables<'_>,
    found: &[(Relation, (usize, usize))],
    fs_path: &[u8],
) -> std::io::Result<()> {
    let mut buf = b"{\"peers\":[".to_vec();
    for (n, &(relation, (t, i))) in found.iter().enumerate() {
        let (ns, pid, mounts) = &tables[t];
        let m = &mounts[i];
        if n > 0 {
            buf.extend_from_slice(b",\n");
        }
        buf.extend_from_slice(b"{\"relation\":");
        push_json_string(&mut buf, relation.word().as_bytes());
        for (key, value) in [("ns", *ns), ("pid", u64::from(*pid)), ("id", m.id)] {
            buf.extend_from_slice(format!(",\"{key}\":{value}").as_bytes());
        }
        buf.extend_from_slice(b",\"target\":");
        push_json_string(&mut buf, &m.mount_point.decode());
        buf.extend_from_slice(b",\"at\":");
        match mount::path_in_mount(m, fs_path) {
            Some(p) => push_json_string(&mut buf, &p),
            None => buf.extend_from_slice(b"null"),
        }
        let mut tags = Vec::new();
        m.propagation.write_tags(&mut tags);
        buf.extend_from_slice(b",\"propagation\":");
        push_json_string(&mut buf, &tags);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}\n");
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_display(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    fn json(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_json_string(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_mount_is_one_line_whatever_its_name() {
        assert_eq!(display(b"/a b"), "/a b");
        assert_eq!(display(b"/a\nb\tc\\d"), "/a\\x0ab\\x09c\\x5cd");
        assert_eq!(display("/ü".as_bytes()), "/ü");
        assert_eq!(display(b"/\xff"), "/\\xff");
        assert_eq!(width("│ └─/ü".as_bytes()), 6);
    }

    #[test]
    fn json_strings_hold_names_as_they_are() {
        assert_eq!(json(b"a\"b\\c\nd\x01"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(json(b"\xff"), "\"\u{fffd}\"");
    }

    #[test]
    fn columns_are_named_as_findmnt_takes_them() {
        assert_eq!(
            Column::parse_list(Some("target,MAJ:MIN,fs-options")).unwrap(),
            [Column::Target, Column::MajMin, Column::FsOptions]
        );
        assert_eq!(
            Column::parse_list(Some("+ID")).unwrap(),
            [DEFAULT_COLUMNS.to_vec(), vec![Column::Id]].concat()
        );
        assert!(Column::parse_list(Some("TARGET,")).is_err());
    }
}
