//! `nsenter`: run a program in the namespaces of another process or of
//! namespace files. A drop-in for util-linux's nsenter(1): same options,
//! defaults, messages and exit statuses; with `-t`, the namespaces are
//! entered with one `setns(pidfd)` where the kernel allows, so a target
//! that exits half way cannot leave us in a mix of namespaces.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches, Parser};
use nix::fcntl::OFlag;

use crate::sys::ns::{self, Entry, EntryPlan, NsFile, NsKind, Target};
use crate::sys::process::{self, Exit, WaitMode};
use crate::sys::{creds, OsContext};
use crate::usage;

/// Run a program with namespaces of other processes.
#[derive(Parser, Debug)]
#[command(
    name = "nsenter",
    after_help = "With no program, runs ${SHELL} (default: /bin/sh). In place of a FILE, \
        :NSID names a namespace by its id (NS_GET_ID, Linux 6.18).\n\n\
        With --target, the namespaces are entered with one setns(2) on a pidfd of the \
        target (Linux 5.8), all or nothing; the user namespace first when it owns the \
        others, otherwise last.",
    override_usage = "nsenter [options] [<program> [<argument>...]]",
    version,
    args_override_self = true,
    disable_help_subcommand = true,
    max_term_width = 80
)]
pub struct Args {
    /// Enter all namespaces of the target
    #[arg(short = 'a', long = "all", help_heading = "Namespaces")]
    all: bool,
    /// Take the namespaces from process PID (or PID:INODE)
    #[arg(
        short = 't',
        long = "target",
        value_name = "PID",
        help_heading = "Namespaces"
    )]
    target: Option<String>,
    /// Enter the mount namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    mount: Option<Option<PathBuf>>,
    /// Enter the UTS namespace (hostname etc)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    uts: Option<Option<PathBuf>>,
    /// Enter the System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    ipc: Option<Option<PathBuf>>,
    /// Enter the network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    net: Option<Option<PathBuf>>,
    /// Enter the network namespace of the target's socket FD
    #[arg(
        short = 'N',
        long = "net-socket",
        value_name = "FD",
        help_heading = "Namespaces"
    )]
    net_socket: Option<i32>,
    /// Enter the PID namespace
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    pid: Option<Option<PathBuf>>,
    /// Enter the cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    cgroup: Option<Option<PathBuf>>,
    /// Enter the user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    user: Option<Option<PathBuf>>,
    /// Enter the parent user namespace
    #[arg(long = "user-parent", help_heading = "Namespaces")]
    user_parent: bool,
    /// Enter the time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    time: Option<Option<PathBuf>>,
    /// Run as UID ('follow': the target's uid)
    #[arg(
        short = 'S',
        long = "setuid",
        value_name = "UID",
        help_heading = "Credentials"
    )]
    setuid: Option<String>,
    /// Run as GID ('follow': the target's gid)
    #[arg(
        short = 'G',
        long = "setgid",
        value_name = "GID",
        help_heading = "Credentials"
    )]
    setgid: Option<String>,
    /// Keep our uid and gid (no uid/gid 0 after -U)
    #[arg(long = "preserve-credentials", help_heading = "Credentials")]
    preserve_credentials: bool,
    /// Retain capabilities granted in user namespaces
    #[arg(long = "keep-caps", help_heading = "Credentials")]
    keep_caps: bool,
    /// Set the root directory
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true, help_heading = "Program")]
    root: Option<Option<PathBuf>>,
    /// Set the working directory
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true, help_heading = "Program")]
    wd: Option<Option<PathBuf>>,
    /// Set the working directory in namespace
    #[arg(
        short = 'W',
        long = "wdns",
        value_name = "DIR",
        help_heading = "Program"
    )]
    wdns: Option<PathBuf>,
    /// Inherit the environment variables of the target process
    #[arg(short = 'e', long = "env", help_heading = "Program")]
    env: bool,
    // As util-linux words it; given as `help` so that rustdoc does not
    // read <program> as an HTML tag.
    #[arg(
        short = 'F',
        long = "no-fork",
        help = "Do not fork before exec'ing <program>",
        help_heading = "Program"
    )]
    no_fork: bool,
    /// Join the cgroup of the target process
    #[arg(short = 'c', long = "join-cgroup", help_heading = "Program")]
    join_cgroup: bool,
    /// Set SELinux context according to --target PID
    #[arg(short = 'Z', long = "follow-context", help_heading = "Program")]
    follow_context: bool,
    /// The program and its arguments
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    command: Vec<OsString>,
}

pub fn command() -> Command {
    Args::command()
}

/// Short options whose value is optional, attached as getopt(3) reads it
/// (`-n/run/netns/blue`, `-w/srv`); see `applets::normalize_args`.
pub const OPTIONAL_VALUE: &str = "muinpCUTrw";
/// Short options that take a value.
pub const REQUIRED_VALUE: &str = "tSGNW";
/// Long options that take a value (the next word, when not given with `=`).
pub const REQUIRED_LONG: &[&str] = &["--target", "--setuid", "--setgid", "--net-socket", "--wdns"];

/// A uid or gid to switch to: a number, or the target's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Id {
    Number(u32),
    Follow,
}

fn parse_id(word: &str, what: &str) -> Result<Id> {
    if word == "follow" {
        return Ok(Id::Follow);
    }
    Ok(Id::Number(creds::parse_numeric_id(word, what)?))
}

/// The command line checked as `run` checks it, opening nothing (the
/// fuzzer's entry).
pub fn validate(m: &ArgMatches) -> Result<()> {
    let a = Args::from_arg_matches(m)?;
    check_usage(&a)?;
    if let Some(word) = &a.target {
        ns::parse_target(word)?;
    }
    let files = [
        &a.user, &a.cgroup, &a.ipc, &a.uts, &a.net, &a.pid, &a.mount, &a.time,
    ];
    for file in files.into_iter().flatten().flatten() {
        let word = file.to_string_lossy();
        if word.starts_with(':') && ns::parse_ns_id(&word).is_none() {
            usage!("invalid namespace id '{word}' (expected :NSID)");
        }
    }
    Ok(())
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    let a = Args::from_arg_matches_mut(m)?;
    let ids = check_usage(&a)?;
    let target = match &a.target {
        Some(word) => {
            let (pid, inode) = ns::parse_target(word)?;
            Some(Target::open(pid, inode)?)
        }
        None => None,
    };
    let mut plan = EntryPlan::new(collect_entries(&a, target.as_ref())?)?;
    let root = open_dir(&a.root, "root", target.as_ref())?;
    let wd = open_dir(&a.wd, "cwd", target.as_ref())?;
    let environ = target
        .as_ref()
        .filter(|_| a.env)
        .map(Target::environ)
        .transpose()?;
    // Join the target's cgroup before its cgroup namespace hides the path.
    if let (Some(t), true) = (&target, a.join_cgroup) {
        process::join_cgroup(&t.cgroup()?)?;
    }

    plan.enter(target.as_ref())?;
    let kinds = plan.kinds();
    drop(plan);
    change_directories(root, wd, a.wdns.as_deref())?;
    // util-linux forks whenever a PID namespace is asked for, even one we
    // are already in (and so left out of the plan).
    let pid_asked = kinds.contains(NsKind::Pid) || a.pid.is_some() || a.all;
    let user = kinds.contains(NsKind::User);
    if pid_asked && !a.no_fork {
        // Our time namespace for children never differs from our own here
        // (only unshare(CLONE_NEWTIME) parts them, until the next exec or a
        // setns into a time namespace, which moves both), so clone(2) takes
        // CLONE_VM; `spawn_and_wait` still forks if it is refused.
        if !a.keep_caps {
            let ids = ids_to_switch(ids, user, a.preserve_credentials, target.as_ref())?;
            if let Some(spawn) = spawn_plan(&a.command, ids, user, environ.as_deref()) {
                if let Some(exit) = spawn_and_wait(spawn)? {
                    return Ok(exit);
                }
            }
        }
        if let Some(child) = process::fork(WaitMode::Shield)? {
            return Ok(child.wait()?);
        }
    }
    switch_ids(ids, user, a.preserve_credentials, target.as_ref())?;
    if a.keep_caps && user {
        creds::permitted_to_ambient()?;
    }
    if let Some(vars) = environ {
        set_environment(vars);
    }
    drop(target);
    Err(exec(&a.command).into())
}

/// The combinations util-linux refuses, and the `-S`/`-G` values.
fn check_usage(a: &Args) -> Result<(Option<Id>, Option<Id>)> {
    if a.follow_context {
        anyhow::bail!("--follow-context is not supported: this build has no SELinux support");
    }
    if a.wd.is_some() && a.wdns.is_some() {
        usage!("mutually exclusive arguments: --wdns --wd");
    }
    let uid = a
        .setuid
        .as_deref()
        .map(|s| parse_id(s, "uid"))
        .transpose()?;
    let gid = a
        .setgid
        .as_deref()
        .map(|s| parse_id(s, "gid"))
        .transpose()?;
    let follow = uid == Some(Id::Follow) || gid == Some(Id::Follow);
    if a.target.is_none() {
        let option = if a.all {
            Some("--all")
        } else if a.env {
            Some("--env")
        } else if a.join_cgroup {
            Some("--join-cgroup")
        } else if a.net_socket.is_some() {
            Some("--net-socket")
        } else if follow {
            Some("'follow'")
        } else {
            None
        };
        if let Some(option) = option {
            usage!("no target PID specified for {option}");
        }
    }
    Ok((uid, gid))
}

/// `-r`, then `-w` or `-W`. A new root keeps the working directory we had
/// unless told otherwise; entering a mount namespace alone leaves us at
/// its root.
fn change_directories(
    root: Option<OwnedFd>,
    wd: Option<OwnedFd>,
    wdns: Option<&Path>,
) -> Result<()> {
    let wd = match (&root, wd, wdns) {
        (Some(_), None, None) => Some(open_path(Path::new("."))?),
        (_, wd, _) => wd,
    };
    if let Some(fd) = root {
        nix::unistd::fchdir(fd.as_fd()).what(|| "cannot change directory".into())?;
        nix::unistd::chroot(".").what(|| "cannot change root directory".into())?;
    }
    if let Some(fd) = wd {
        nix::unistd::fchdir(fd.as_fd()).what(|| "cannot change directory".into())?;
    } else if let Some(dir) = wdns {
        nix::unistd::chdir(dir).what(|| format!("cannot change directory to {}", dir.display()))?;
    }
    Ok(())
}

/// The gid and uid to switch to: `-S`/`-G`, and util-linux's default
/// after entering a user namespace: become its root, unless
/// `--preserve-credentials`. `follow` takes the target's ids as the
/// namespace we are now in sees them.
fn ids_to_switch(
    (uid, gid): (Option<Id>, Option<Id>),
    user: bool,
    preserve: bool,
    target: Option<&Target>,
) -> Result<(Option<u32>, Option<u32>)> {
    let followed = match target {
        Some(t) if uid == Some(Id::Follow) || gid == Some(Id::Follow) => Some(t.ids()?),
        _ => None,
    };
    let pick = |id: Option<Id>, which: fn((u32, u32)) -> u32| match id {
        Some(Id::Number(n)) => Some(n),
        Some(Id::Follow) => followed.map(which),
        None => (user && !preserve).then_some(0),
    };
    Ok((pick(gid, |(_, g)| g), pick(uid, |(u, _)| u)))
}

/// Switch to the ids `ids_to_switch` picks: groups and gid first.
fn switch_ids(
    ids: (Option<Id>, Option<Id>),
    user: bool,
    preserve: bool,
    target: Option<&Target>,
) -> Result<()> {
    let (gid, uid) = ids_to_switch(ids, user, preserve, target)?;
    if let Some(gid) = gid {
        creds::clear_groups_in_userns(user)?;
        creds::set_gid(gid)?;
    }
    if let Some(uid) = uid {
        creds::set_uid(uid)?;
    }
    Ok(())
}

/// The program, or `$SHELL` as a login shell (as util-linux runs it).
fn exec(command: &[OsString]) -> process::ExecError {
    if !command.is_empty() {
        return process::exec(command);
    }
    let shell = process::default_shell();
    process::exec_as(&shell, &process::login_name(&shell), &[])
}

/// The forked child's work as a `process::Spawn` (no fork: see there):
/// the switch of ids as `switch_ids` makes it, and `exec` with our
/// environment or the target's (`-e`). `None`: the child must be forked.
fn spawn_plan(
    command: &[OsString],
    (gid, uid): (Option<u32>, Option<u32>),
    user: bool,
    environ: Option<&[(OsString, OsString)]>,
) -> Option<process::Spawn> {
    // Where `set_environment` leaves each name: first place, last value.
    let environ = environ.map(|vars| {
        let mut merged: Vec<(OsString, OsString)> = Vec::with_capacity(vars.len());
        for (k, v) in vars {
            match merged.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => merged.push((k.clone(), v.clone())),
            }
        }
        merged
    });
    let mut spawn = if command.is_empty() {
        let shell = match &environ {
            Some(vars) => process::shell_from(
                vars.iter()
                    .find(|(k, _)| k == "SHELL")
                    .map(|(_, v)| v.clone()),
            ),
            None => process::default_shell(),
        };
        process::Spawn::exec_as(&shell, &process::login_name(&shell), &[])?
    } else {
        process::Spawn::exec(command)?
    };
    if let Some(vars) = &environ {
        spawn.environment(vars)?;
    }
    if let Some(gid) = gid {
        spawn.clear_groups(user);
        spawn.set_gid(gid);
    }
    if let Some(uid) = uid {
        spawn.set_uid(uid);
    }
    Some(spawn)
}

/// Spawn the program and wait for it; a failure before the program is
/// reported here, in the words the forked child would use. `None` when
/// the kernel refused the clone with EINVAL (another time namespace for
/// children): nothing ran, and the child is to be forked.
fn spawn_and_wait(mut spawn: process::Spawn) -> Result<Option<Exit>> {
    let (child, failure) = match spawn.spawn(WaitMode::Shield) {
        Err(e) if e.errno() == Some(nix::errno::Errno::EINVAL) => return Ok(None),
        other => other?,
    };
    let Some(failure) = failure else {
        return Ok(Some(child.wait()?));
    };
    // The child has exited with the status main gives this error (1, or
    // 126/127 for exec), as a forked child does: reap it, and let main
    // report the error and end with that status.
    let _ = child.wait();
    Err(match spawn.error(failure) {
        process::SpawnError::Exec(e) => e.into(),
        process::SpawnError::Setup(e) => e.into(),
    })
}

/// The namespaces the options ask for, each opened now (before anything is
/// entered), with its source.
fn collect_entries(a: &Args, target: Option<&Target>) -> Result<Vec<Entry>> {
    let asked = [
        (NsKind::User, &a.user),
        (NsKind::Cgroup, &a.cgroup),
        (NsKind::Ipc, &a.ipc),
        (NsKind::Uts, &a.uts),
        (NsKind::Net, &a.net),
        (NsKind::Pid, &a.pid),
        (NsKind::Mnt, &a.mount),
        (NsKind::Time, &a.time),
    ];
    let mut entries = Vec::new();
    for (kind, opt) in asked {
        let from_option = match opt {
            Some(Some(file)) => Some(Some(file)),
            Some(None) => Some(None),
            None if a.all => Some(None),
            None => None,
        };
        let explicit = opt.is_some();
        let entry = match from_option {
            None if kind == NsKind::Net && a.net_socket.is_some() => {
                let t = target.expect("checked: --net-socket needs a target");
                let fd = a.net_socket.unwrap_or(-1);
                Entry::file(t.socket_netns(fd)?)
            }
            None => continue,
            Some(Some(file)) if file.as_os_str().as_encoded_bytes().starts_with(b":") => {
                let word = file.to_string_lossy();
                let Some(id) = ns::parse_ns_id(&word) else {
                    usage!("invalid namespace id '{word}' (expected :NSID)");
                };
                let file = NsFile::open_by_id(id, kind)?;
                check_kind(&file, kind)?;
                Entry::file(file)
            }
            Some(Some(file)) => Entry::file(open_file(file, kind)?),
            Some(None) => {
                let Some(t) = target else {
                    anyhow::bail!(
                        "neither filename nor target pid supplied for ns/{}",
                        kind.proc_name()
                    );
                };
                let Some(file) = t.ns(kind)? else {
                    if explicit {
                        anyhow::bail!("the kernel has no {kind} namespaces");
                    }
                    continue;
                };
                match kind {
                    // setns(2) refuses our own user namespace (EINVAL): --all
                    // leaves it out, as util-linux does; an explicit -U fails.
                    NsKind::User => {
                        if !explicit && ns::own_inode(kind) == Some(file.inode()) {
                            continue;
                        }
                        Entry::of_target(file)
                    }
                    // Entered even when it is ours, as util-linux does: that
                    // takes us to the root of the target's mount namespace.
                    NsKind::Mnt => Entry::of_target(file),
                    // Another namespace we are already in is left out, so
                    // that it cannot spoil the atomic entry (after the
                    // target's user namespace we may have no right to
                    // re-enter ours); found out only if need be.
                    _ => Entry::of_target_unless_ours(file),
                }
            }
        };
        let entry = if kind == NsKind::User && a.user_parent {
            Entry::file(entry.file.parent()?)
        } else {
            entry
        };
        entries.push(entry);
    }
    if let Some(t) = target {
        t.check_alive()?;
    }
    Ok(entries)
}

/// Open a namespace file given by the user, checking its kind.
fn open_file(path: &Path, kind: NsKind) -> Result<NsFile> {
    let file = NsFile::open(path)?;
    check_kind(&file, kind)?;
    Ok(file)
}

fn check_kind(file: &NsFile, kind: NsKind) -> Result<()> {
    if file.kind() != kind {
        anyhow::bail!(
            "{}: is a {} namespace, not a {kind} namespace",
            file.path().display(),
            file.kind()
        );
    }
    Ok(())
}

/// The directory for `-r`/`-w`: the one given, or the target's.
fn open_dir(
    opt: &Option<Option<PathBuf>>,
    name: &str,
    target: Option<&Target>,
) -> Result<Option<OwnedFd>> {
    match opt {
        None => Ok(None),
        Some(Some(dir)) => open_path(dir).map(Some),
        Some(None) => match target {
            Some(t) => Ok(Some(t.open_at(name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?)),
            None => anyhow::bail!("neither filename nor target pid supplied for {name}"),
        },
    }
}

fn open_path(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .what(|| format!("cannot open {}", dir.display()))
    .map_err(Into::into)
}

/// Replace our environment with the target's.
fn set_environment(vars: Vec<(OsString, OsString)>) {
    let names: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    // Single-threaded (DESIGN.md), so changing the environment is sound.
    for name in names {
        std::env::remove_var(name);
    }
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}
