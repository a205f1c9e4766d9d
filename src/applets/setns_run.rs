//! `setns-run`: enter namespaces given as files or processes, in the right
//! order, and run a command there. The general form that setns(2) sketches:
//! give it any namespace files and it finds out what they are.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches, Parser};

use crate::sys::ns::{self, Entered, Entry, EntryPlan, NsFile, NsKind, NsSpec, Target};
use crate::sys::process::{self, Exit, WaitMode};
use crate::sys::{creds, OsContext};
use crate::usage;

const ORDER_RULE: &str = "\
Each NS is a namespace file (/proc/PID/ns/net, /run/netns/NAME, a file that \
'unshare --net=FILE' bound), KIND:FILE to insist on the kind (mnt, uts, ipc, net, \
pid, user, cgroup, time), or a PID (PID:INODE to insist on the pidfs inode) for \
every namespace of that process that we are not already in.

Order of entry: entering a namespace needs CAP_SYS_ADMIN in the user namespace \
that owns it. Entering a user namespace grants that over the namespaces it owns \
and takes it away over the ones its ancestors own. So the user namespace is \
entered first when it owns (itself or through its descendants) every other \
namespace given, and last otherwise. When every namespace comes from one process, \
they are entered with one setns(2) on its pidfd: all or nothing.

After entering a user namespace the command runs as its uid and gid 0, unless \
--preserve-credentials. A PID namespace applies to children: setns-run forks \
unless --no-fork. -r and -w are resolved after entering (in the entered mount \
namespace).

Exit status: 125 if setns-run itself fails, 126 if COMMAND cannot run, 127 if it \
is not found, otherwise COMMAND's status (a COMMAND killed by a signal kills \
setns-run with the same signal).";

/// Run a command in the namespaces of files or processes.
#[derive(Parser, Debug)]
#[command(
    name = "setns-run",
    after_help = ORDER_RULE,
    override_usage = "setns-run [options] <NS>... -- <command> [<argument>...]",
    version,
    disable_help_subcommand = true,
    max_term_width = 80
)]
pub struct Args {
    /// Print the plan (order, inodes, rights needed); enter nothing
    #[arg(short = 'n', long = "dry-run", help_heading = "Entry")]
    dry_run: bool,
    /// Print each namespace entered (kind and inode) on stderr
    #[arg(short = 'v', long = "verbose", help_heading = "Entry")]
    verbose: bool,
    /// Do not fork, even for a PID namespace
    #[arg(short = 'F', long = "no-fork", help_heading = "Command")]
    no_fork: bool,
    /// Change the root directory to DIR (after entering)
    #[arg(
        short = 'r',
        long = "root",
        value_name = "DIR",
        help_heading = "Command"
    )]
    root: Option<PathBuf>,
    /// Change the working directory to DIR (after entering)
    #[arg(short = 'w', long = "wd", value_name = "DIR", help_heading = "Command")]
    wd: Option<PathBuf>,
    /// Run the command as UID
    #[arg(
        short = 'S',
        long = "setuid",
        value_name = "UID",
        help_heading = "Credentials"
    )]
    setuid: Option<String>,
    /// Run the command as GID, with no other groups
    #[arg(
        short = 'G',
        long = "setgid",
        value_name = "GID",
        help_heading = "Credentials"
    )]
    setgid: Option<String>,
    /// Keep our uid and gid in an entered user namespace
    #[arg(long = "preserve-credentials", help_heading = "Credentials")]
    preserve_credentials: bool,
    /// Namespaces to enter: FILE, KIND:FILE or PID[:INODE]
    #[arg(value_name = "NS", required = true)]
    namespaces: Vec<OsString>,
    /// The command and its arguments (after --)
    #[arg(value_name = "COMMAND", last = true)]
    command: Vec<OsString>,
}

pub fn command() -> Command {
    Args::command()
}

/// The command line checked as `run` checks it, opening nothing (the
/// fuzzer's entry).
pub fn validate(m: &ArgMatches) -> Result<()> {
    checked(m).map(drop)
}

/// The arguments, the `-S`/`-G` ids and the namespace specs, all checked.
type Checked = (Args, Option<u32>, Option<u32>, Vec<NsSpec>);

fn checked(m: &ArgMatches) -> Result<Checked> {
    let a = Args::from_arg_matches(m)?;
    if a.command.is_empty() && !a.dry_run {
        if std::env::args_os().any(|w| w == "--") {
            usage!("missing COMMAND after '--'");
        }
        usage!("missing '--' before COMMAND");
    }
    let setuid = a
        .setuid
        .as_deref()
        .map(|s| creds::parse_numeric_id(s, "uid"))
        .transpose()?;
    let setgid = a
        .setgid
        .as_deref()
        .map(|s| creds::parse_numeric_id(s, "gid"))
        .transpose()?;
    let specs = a
        .namespaces
        .iter()
        .map(|w| NsSpec::parse(w))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((a, setuid, setgid, specs))
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    let (a, setuid, setgid, specs) = checked(m)?;
    let (entries, target) = open_all(&specs)?;
    let mut plan = EntryPlan::new(entries)?;
    if a.dry_run {
        print_plan(&plan, target.as_ref())?;
        return Ok(Exit::SUCCESS);
    }
    let how = plan.enter(target.as_ref())?;
    if a.verbose {
        report(&plan, target.as_ref(), how);
    }
    let kinds = plan.kinds();
    drop(plan);
    drop(target);

    if let Some(root) = &a.root {
        nix::unistd::chroot(root)
            .what(|| format!("cannot change root directory to {}", root.display()))?;
    }
    if let Some(dir) = a.wd.as_deref().or(a.root.as_ref().map(|_| Path::new("/"))) {
        nix::unistd::chdir(dir).what(|| format!("cannot change directory to {}", dir.display()))?;
    }
    if kinds.contains(NsKind::Pid) && !a.no_fork {
        if let Some(child) = process::fork(WaitMode::Shield)? {
            return Ok(child.wait()?);
        }
    }
    let user = kinds.contains(NsKind::User) && !a.preserve_credentials;
    if let Some(gid) = setgid.or(user.then_some(0)) {
        creds::clear_groups_in_userns(kinds.contains(NsKind::User))?;
        creds::set_gid(gid)?;
    }
    if let Some(uid) = setuid.or(user.then_some(0)) {
        creds::set_uid(uid)?;
    }
    Err(process::exec(&a.command).into())
}

/// Open every namespace the arguments name, before anything is entered.
/// A process is held by its pidfd; at most one process may be given.
fn open_all(specs: &[NsSpec]) -> Result<(Vec<Entry>, Option<Target>)> {
    let mut entries = Vec::new();
    let mut target: Option<Target> = None;
    for spec in specs {
        match spec {
            NsSpec::Path(path) => entries.push(Entry::file(NsFile::open(path)?)),
            NsSpec::Kind(kind, path) => {
                let file = NsFile::open(path)?;
                if file.kind() != *kind {
                    anyhow::bail!(
                        "{}: is a {} namespace, not a {kind} namespace",
                        path.display(),
                        file.kind()
                    );
                }
                entries.push(Entry::file(file));
            }
            NsSpec::Process(pid, inode) => {
                if let Some(t) = &target {
                    anyhow::bail!(
                        "processes {} and {pid}: give one process (and files for the rest)",
                        t.pid()
                    );
                }
                let t = Target::open(*pid, *inode)?;
                for kind in NsKind::ALL {
                    let Some(file) = t.ns(kind)? else { continue };
                    // We are already there: nothing to enter (and setns(2)
                    // refuses our own user namespace).
                    if ns::own_inode(kind) == Some(file.inode()) {
                        continue;
                    }
                    entries.push(Entry::of_target(file));
                }
                t.check_alive()?;
                target = Some(t);
            }
        }
    }
    Ok((entries, target))
}

fn print_plan(plan: &EntryPlan, target: Option<&Target>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock, line: String| {
        writeln!(out, "{line}").what(|| "cannot write to stdout".into())
    };
    let from = plan
        .entries()
        .iter()
        .map(|e| e.file.path().display().to_string().len())
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    write(
        &mut out,
        format!(
            "{:<6}{:<8}{:<12}{:<from$}NEEDS",
            "ORDER", "KIND", "INODE", "FROM"
        ),
    )?;
    for (i, e) in plan.entries().iter().enumerate() {
        write(
            &mut out,
            format!(
                "{:<6}{:<8}{:<12}{:<from$}{}",
                i + 1,
                e.file.kind().proc_name(),
                e.file.inode(),
                e.file.path().display().to_string(),
                plan.needs(e)
            ),
        )?;
    }
    let how = match target {
        Some(t) if plan.atomic_with(Some(t)) => format!(
            "entry: one setns(2) on the pidfd of process {} (all or nothing)",
            t.pid()
        ),
        _ if plan.is_empty() => "entry: nothing to enter".to_string(),
        _ => "entry: one setns(2) per namespace, in this order".to_string(),
    };
    write(&mut out, how)?;
    Ok(())
}

fn report(plan: &EntryPlan, target: Option<&Target>, how: Entered) {
    for e in plan.entries() {
        eprintln!(
            "setns-run: entered {}:[{}] ({})",
            e.file.kind().proc_name(),
            e.file.inode(),
            e.file.path().display()
        );
    }
    if let (Entered::Atomically, Some(t)) = (how, target) {
        eprintln!(
            "setns-run: in one setns(2) on the pidfd of process {}",
            t.pid()
        );
    }
}
