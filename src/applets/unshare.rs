//! `unshare`: run a program in new namespaces. A drop-in for util-linux's
//! unshare(1): same options, defaults, messages and exit statuses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::os::fd::AsFd;

use anyhow::{Context, Result};
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches, Parser};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::{getpid, Pid};

use crate::sys::idmap::{self, IdMap, IdRange, MapKind, Mapper, Setgroups};
use crate::sys::mount::{self, Propagation};
use crate::sys::ns::{self, NsFile, NsKind, NsSet};
use crate::sys::outside::{MapperRun, Outside};
use crate::sys::persist::{self, Binding};
use crate::sys::process::EnvPlan;
use crate::sys::process::{self, Exit, ProcDir, WaitMode};
use crate::sys::{creds, hints, timens, userdb, OsContext};
use crate::usage;

/// Run a program with some namespaces unshared from the parent.
#[derive(Parser, Debug)]
#[command(
    name = "unshare",
    after_help = "With no program, runs ${SHELL} (default: /bin/sh) as a login shell.",
    override_usage = "unshare [options] [<program> [<argument>...]]",
    version,
    args_override_self = true,
    disable_help_subcommand = true,
    max_term_width = 80
)]
pub struct Args {
    /// Unshare the mount namespace (persist it at FILE)
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    mount: Option<Option<PathBuf>>,
    /// Unshare the UTS namespace: hostname, domainname
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    uts: Option<Option<PathBuf>>,
    /// Unshare the System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    ipc: Option<Option<PathBuf>>,
    /// Unshare the network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    net: Option<Option<PathBuf>>,
    /// Unshare the PID namespace (for children: see --fork)
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    pid: Option<Option<PathBuf>>,
    /// Unshare the user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    user: Option<Option<PathBuf>>,
    /// Unshare the cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    cgroup: Option<Option<PathBuf>>,
    /// Unshare the time namespace (for children: see --fork)
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Namespaces")]
    time: Option<Option<PathBuf>>,

    /// Fork the program as a child of unshare
    #[arg(short = 'f', long = "fork", help_heading = "Process")]
    fork: bool,
    /// Forward TERM INT HUP QUIT USR1 USR2 WINCH, stop/cont (implies -f)
    #[arg(long = "forward-signals", help_heading = "Process")]
    forward_signals: bool,
    /// When unshare dies, send SIGNAME (default KILL) to the child
    #[arg(long = "kill-child", value_name = "SIGNAME", num_args = 0..=1, require_equals = true, default_missing_value = "KILL", help_heading = "Process")]
    kill_child: Option<String>,

    /// Mount proc at DIR (default /proc) first (implies --mount)
    #[arg(long = "mount-proc", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc", help_heading = "Mounts")]
    mount_proc: Option<PathBuf>,
    /// Mount binfmt_misc at DIR first (implies --mount)
    #[arg(long = "mount-binfmt", value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc/sys/fs/binfmt_misc", help_heading = "Mounts")]
    mount_binfmt: Option<PathBuf>,
    /// Set propagation of all mounts in the new mount namespace
    #[arg(long = "propagation", value_name = "slave|shared|private|unchanged", value_parser = ["slave", "shared", "private", "unchanged"], hide_possible_values = true, help_heading = "Mounts")]
    propagation: Option<String>,
    /// Load a binfmt_misc definition (implies --mount-binfmt)
    #[arg(
        short = 'l',
        long = "load-interp",
        value_name = "STRING",
        help_heading = "Mounts"
    )]
    load_interp: Option<String>,

    /// Map the current user and group to root (implies --user)
    #[arg(short = 'r', long = "map-root-user", help_heading = "User namespace")]
    map_root_user: bool,
    /// Map the current user and group to themselves
    #[arg(
        short = 'c',
        long = "map-current-user",
        help_heading = "User namespace"
    )]
    map_current_user: bool,
    /// Map the current effective user to UID (implies --user)
    #[arg(
        long = "map-user",
        value_name = "UID|NAME",
        help_heading = "User namespace"
    )]
    map_user: Option<String>,
    /// Map the current effective group to GID (implies --user)
    #[arg(
        long = "map-group",
        value_name = "GID|NAME",
        help_heading = "User namespace"
    )]
    map_group: Option<String>,
    /// Map ranges of uids: INNER:OUTER:COUNT, auto, subids or all (implies --user)
    #[arg(
        long = "map-users",
        value_name = "INNER:OUTER:COUNT|auto|subids|all",
        help_heading = "User namespace"
    )]
    map_users: Vec<String>,
    /// Map ranges of gids, as --map-users (implies --user)
    #[arg(
        long = "map-groups",
        value_name = "INNER:OUTER:COUNT|auto|subids|all",
        help_heading = "User namespace"
    )]
    map_groups: Vec<String>,
    /// Map your first subordinate uids and gids from 0 (--map-users=auto --map-groups=auto)
    #[arg(long = "map-auto", help_heading = "User namespace")]
    map_auto: bool,
    /// Map yourself to 0 and your subordinate ids from 1 (--map-users=subids --map-groups=subids)
    #[arg(long = "map-subids", help_heading = "User namespace")]
    map_subids: bool,
    /// Owner of the new user namespace (implies --user)
    #[arg(
        long = "owner",
        value_name = "UID:GID",
        help_heading = "User namespace"
    )]
    owner: Option<String>,
    /// Allow or deny setgroups(2) in the user namespace
    #[arg(long = "setgroups", value_name = "allow|deny", value_parser = ["allow", "deny"], hide_possible_values = true, help_heading = "User namespace")]
    setgroups: Option<String>,
    /// Keep user-namespace capabilities across exec
    #[arg(long = "keep-caps", help_heading = "User namespace")]
    keep_caps: bool,

    /// Set the hostname of the new UTS namespace (implies --uts)
    #[arg(long = "hostname", value_name = "NAME", help_heading = "Program")]
    hostname: Option<String>,
    /// Run the program with root directory DIR
    #[arg(
        short = 'R',
        long = "root",
        value_name = "DIR",
        help_heading = "Program"
    )]
    root: Option<PathBuf>,
    /// Change the working directory to DIR
    #[arg(short = 'w', long = "wd", value_name = "DIR", help_heading = "Program")]
    wd: Option<PathBuf>,
    /// Set the user ID in the new namespaces
    #[arg(
        short = 'S',
        long = "setuid",
        value_name = "UID",
        help_heading = "Program"
    )]
    setuid: Option<String>,
    /// Set the group ID and drop supplementary groups
    #[arg(
        short = 'G',
        long = "setgid",
        value_name = "GID",
        help_heading = "Program"
    )]
    setgid: Option<String>,
    /// Offset of CLOCK_MONOTONIC in seconds (needs --time)
    #[arg(
        long = "monotonic",
        value_name = "OFFSET",
        allow_hyphen_values = true,
        help_heading = "Program"
    )]
    monotonic: Option<String>,
    /// Offset of CLOCK_BOOTTIME in seconds (needs --time)
    #[arg(
        long = "boottime",
        value_name = "OFFSET",
        allow_hyphen_values = true,
        help_heading = "Program"
    )]
    boottime: Option<String>,
    /// Do not pass the environment on to the program
    #[arg(long = "clear-env", help_heading = "Program")]
    clear_env: bool,
    /// Pass only these variables (implies --clear-env)
    #[arg(
        long = "whitelist-env",
        value_name = "NAME,...",
        help_heading = "Program"
    )]
    whitelist_env: Option<String>,

    /// The program and its arguments
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    command: Vec<OsString>,
}

pub fn command() -> Command {
    Args::command()
}

/// What to do, decided and checked before anything is created.
#[derive(Debug, Default)]
struct Plan {
    kinds: NsSet,
    persist: Vec<(NsKind, PathBuf)>,
    fork: bool,
    wait_mode: Option<WaitMode>,
    kill_child: Option<Signal>,
    uid_map: Option<u32>,
    gid_map: Option<u32>,
    /// `--map-users`/`--map-groups`: written from outside, by us as root or
    /// through newuidmap/newgidmap otherwise.
    uid_ranges: Option<IdMap>,
    gid_ranges: Option<IdMap>,
    /// The newuidmap/newgidmap to use when not root (None: write directly).
    uid_mapper: Option<Mapper>,
    gid_mapper: Option<Mapper>,
    owner: Option<(u32, u32)>,
    setgroups: Option<Setgroups>,
    propagation: Option<Propagation>,
    mount_proc: Option<PathBuf>,
    mount_binfmt: Option<PathBuf>,
    load_interp: Option<String>,
    hostname: Option<String>,
    root: Option<PathBuf>,
    wd: Option<PathBuf>,
    setuid: Option<u32>,
    setgid: Option<u32>,
    keep_caps: bool,
    offsets: timens::Offsets,
    env: EnvPlan,
    program: Vec<OsString>,
    shell: bool,
}

/// The command line checked as `run` checks it, creating nothing (the
/// fuzzer's entry: it reads files such as /etc/subuid, writes none).
pub fn validate(m: &ArgMatches) -> Result<()> {
    Plan::from_args(Args::from_arg_matches(m)?).map(drop)
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    let plan = Plan::from_args(Args::from_arg_matches_mut(m)?)?;
    let (real_uid, real_gid) = (creds::euid(), creds::egid());
    let mut outside = plan.needs_outside().then(Outside::spawn).transpose()?;
    let old_mnt_ns = plan
        .persists(NsKind::Mnt)
        .then(|| NsFile::of_process(None, NsKind::Mnt))
        .transpose()?;
    if let Some((uid, gid)) = plan.owner {
        creds::set_effective(uid, gid).context("cannot become the namespace owner")?;
    }
    ns::unshare(plan.kinds).map_err(|e| hints::explain_unshare(e, plan.kinds))?;
    if let Err(e) =
        plan.finish_namespaces(outside.as_mut(), old_mnt_ns.as_ref(), real_uid, real_gid)
    {
        if let Some(o) = outside.as_mut() {
            o.undo_binds();
        }
        return Err(e);
    }
    if !plan.fork {
        // Our own last failures come before the helper goes, so that the
        // bindings can still be undone; bindings made here are undone from
        // the old root, if --root moved us.
        let old_root = (plan.root.is_some() && outside.is_none() && !plan.persist.is_empty())
            .then(|| {
                nix::fcntl::open(
                    "/",
                    nix::fcntl::OFlag::O_PATH
                        | nix::fcntl::OFlag::O_DIRECTORY
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
            })
            .transpose()
            .what(|| "cannot open /".into())?;
        if let Err(e) = plan.prepare().and_then(|()| plan.check_program()) {
            let here = match &old_root {
                Some(fd) => nix::unistd::fchdir(fd)
                    .and_then(|_| nix::unistd::chroot("."))
                    .is_ok(),
                None => plan.root.is_none(),
            };
            plan.undo_bindings(outside.as_mut(), here);
            return Err(e);
        }
        if let Some(o) = outside {
            o.finish();
        }
        return plan.exec_program();
    }
    plan.fork_and_wait(outside)
}

impl Plan {
    fn from_args(a: Args) -> Result<Plan> {
        let mut p = Plan::default();
        let flags = [
            (NsKind::Mnt, a.mount),
            (NsKind::Uts, a.uts),
            (NsKind::Ipc, a.ipc),
            (NsKind::Net, a.net),
            (NsKind::Pid, a.pid),
            (NsKind::User, a.user),
            (NsKind::Cgroup, a.cgroup),
            (NsKind::Time, a.time),
        ];
        for (kind, opt) in flags {
            match opt {
                None => {}
                Some(None) => p.kinds.insert(kind),
                Some(Some(file)) => {
                    p.kinds.insert(kind);
                    persist::check_target(&file)?;
                    p.persist.push((kind, file));
                }
            }
        }
        p.fork = a.fork || a.forward_signals || a.kill_child.is_some();
        if p.fork {
            p.wait_mode = Some(if a.forward_signals {
                WaitMode::Forward
            } else {
                WaitMode::Shield
            });
        }
        if let Some(name) = &a.kill_child {
            let Some(sig) = process::parse_signal(name) else {
                usage!("unknown signal: {name}")
            };
            p.kill_child = Some(sig);
        }
        if a.map_root_user {
            p.uid_map = Some(0);
            p.gid_map = Some(0);
        }
        if a.map_current_user {
            p.uid_map = Some(creds::euid());
            p.gid_map = Some(creds::egid());
        }
        if let Some(u) = &a.map_user {
            p.uid_map = Some(userdb::user_id(u).context("failed to parse uid")?);
        }
        if let Some(g) = &a.map_group {
            p.gid_map = Some(userdb::group_id(g).context("failed to parse gid")?);
        }
        if let Some(owner) = &a.owner {
            let Some((u, g)) = owner.split_once(':') else {
                usage!("--owner takes UID:GID, not '{owner}'")
            };
            p.owner = Some((
                creds::parse_numeric_id(u, "uid")?,
                creds::parse_numeric_id(g, "gid")?,
            ));
        }
        let mut users = a.map_users.clone();
        let mut groups = a.map_groups.clone();
        for (flag, word) in [(a.map_auto, "auto"), (a.map_subids, "subids")] {
            if flag {
                users.push(word.into());
                groups.push(word.into());
            }
        }
        p.uid_ranges = map_ranges(MapKind::Uid, &users).context("--map-users")?;
        p.gid_ranges = map_ranges(MapKind::Gid, &groups).context("--map-groups")?;
        if creds::euid() != 0 {
            let find = |kind: MapKind| {
                Mapper::find(kind).with_context(|| {
                    format!(
                        "--map-users/--map-groups need {} on PATH (shadow's uidmap package, or \
                         ours: make install-setuid)",
                        kind.mapper_name()
                    )
                })
            };
            if p.uid_ranges.is_some() {
                p.uid_mapper = Some(find(MapKind::Uid)?);
            }
            if p.gid_ranges.is_some() {
                p.gid_mapper = Some(find(MapKind::Gid)?);
            }
        }
        if p.uid_map.is_some()
            || p.gid_map.is_some()
            || p.owner.is_some()
            || p.uid_ranges.is_some()
            || p.gid_ranges.is_some()
        {
            p.kinds.insert(NsKind::User);
        }
        p.setgroups = match a.setgroups.as_deref() {
            Some("allow") => Some(Setgroups::Allow),
            Some(_) => Some(Setgroups::Deny),
            None => None,
        };
        if p.gid_map.is_some() {
            if p.setgroups == Some(Setgroups::Allow) {
                usage!("options --setgroups=allow and --map-group are mutually exclusive");
            }
            // user_namespaces(7): an unprivileged writer must deny setgroups
            // before writing gid_map; util-linux denies it for every writer.
            p.setgroups = Some(Setgroups::Deny);
        }
        if p.setgroups.is_some() && !p.kinds.contains(NsKind::User) {
            // Only a new user namespace's setgroups file may be written.
            usage!("option --setgroups needs a new user namespace (add -U)");
        }
        p.mount_proc = a.mount_proc;
        p.load_interp = a.load_interp;
        p.mount_binfmt = a.mount_binfmt;
        if p.load_interp.is_some() && p.mount_binfmt.is_none() {
            p.mount_binfmt = Some(PathBuf::from("/proc/sys/fs/binfmt_misc"));
        }
        if p.mount_proc.is_some() || p.mount_binfmt.is_some() {
            p.kinds.insert(NsKind::Mnt);
        }
        p.propagation = match a.propagation.as_deref() {
            Some("unchanged") => None,
            Some(word) => Propagation::parse(word),
            None => Some(Propagation::Private),
        };
        p.hostname = a.hostname;
        if p.hostname.is_some() {
            p.kinds.insert(NsKind::Uts);
        }
        p.root = a.root;
        p.wd = a.wd;
        p.setuid = a
            .setuid
            .as_deref()
            .map(|s| creds::parse_numeric_id(s, "uid"))
            .transpose()?;
        p.setgid = a
            .setgid
            .as_deref()
            .map(|s| creds::parse_numeric_id(s, "gid"))
            .transpose()?;
        p.keep_caps = a.keep_caps;
        if let Some(v) = &a.monotonic {
            p.offsets.monotonic =
                Some(timens::parse_offset(v).context("failed to parse monotonic offset")?);
        }
        if let Some(v) = &a.boottime {
            p.offsets.boottime =
                Some(timens::parse_offset(v).context("failed to parse boottime offset")?);
        }
        if !p.offsets.is_empty() && !p.kinds.contains(NsKind::Time) {
            usage!("options --monotonic and --boottime require unsharing of a time namespace (-T)");
        }
        if p.persist.iter().any(|(k, _)| *k == NsKind::Pid) && !p.fork {
            usage!("a persistent PID namespace needs --fork (its first process must be our child)");
        }
        p.env = EnvPlan::new(a.clear_env, a.whitelist_env.as_deref());
        p.shell = a.command.is_empty();
        p.program = a.command;
        Ok(p)
    }

    fn persists(&self, kind: NsKind) -> bool {
        self.persist.iter().any(|(k, _)| *k == kind)
    }

    /// A helper must stay outside when our binds must be made in the old
    /// mount namespace, or our maps written with the old privileges.
    fn needs_outside(&self) -> bool {
        (self.binds_from_outside() && !self.persist.is_empty())
            || self.owner.is_some()
            || self.uid_ranges.is_some()
            || self.gid_ranges.is_some()
    }

    /// In a new mount namespace our binds would not be seen outside, and in
    /// a new user namespace we lose the right to mount in the old one.
    fn binds_from_outside(&self) -> bool {
        self.kinds.contains(NsKind::Mnt) || self.kinds.contains(NsKind::User)
    }

    /// After unshare(2), before any child: time offsets, id maps, and the
    /// bindings that do not need a child.
    fn finish_namespaces(
        &self,
        mut outside: Option<&mut Outside>,
        old_mnt_ns: Option<&NsFile>,
        real_uid: u32,
        real_gid: u32,
    ) -> Result<()> {
        if !self.offsets.is_empty() {
            timens::set_offsets(&self.offsets)?;
        }
        self.write_maps(outside.as_deref_mut(), real_uid, real_gid)?;
        let now: Vec<Binding> = self.bindings(getpid(), |k| k != NsKind::Pid);
        if !now.is_empty() {
            match outside {
                Some(o) if self.binds_from_outside() => {
                    self.bind_from_outside(o, old_mnt_ns, &now)?
                }
                _ => persist::bind_all(&now).map_err(|(_, e)| hints::explain_bind(e))?,
            }
        }
        Ok(())
    }

    fn write_maps(
        &self,
        outside: Option<&mut Outside>,
        real_uid: u32,
        real_gid: u32,
    ) -> Result<()> {
        let mut outside = outside;
        if let Some(o) = outside.as_deref_mut() {
            self.write_ranges(o)?;
        }
        let uid_map = self
            .uid_map
            .filter(|_| self.uid_ranges.is_none())
            .map(|inside| IdMap::new(vec![IdRange::single(inside, real_uid)]))
            .transpose()?;
        let gid_map = self
            .gid_map
            .filter(|_| self.gid_ranges.is_none())
            .map(|inside| IdMap::new(vec![IdRange::single(inside, real_gid)]))
            .transpose()?;
        if let Some(o) = outside.filter(|_| self.owner.is_some()) {
            if let Some(map) = &uid_map {
                o.write_map(MapKind::Uid, map)?;
            }
            if let Some(sg) = self.setgroups {
                o.write_setgroups(sg)?;
            }
            if let Some(map) = &gid_map {
                o.write_map(MapKind::Gid, map)?;
            }
            return Ok(());
        }
        let setgroups = self.setgroups.filter(|_| self.gid_ranges.is_none());
        if uid_map.is_none() && gid_map.is_none() && setgroups.is_none() {
            return Ok(());
        }
        let me = ProcDir::open(None)?;
        if let Some(map) = &uid_map {
            idmap::write(me.as_fd(), MapKind::Uid, map).map_err(hints::explain_map)?;
        }
        if let Some(sg) = setgroups {
            idmap::write_setgroups(me.as_fd(), sg)?;
        }
        if let Some(map) = &gid_map {
            idmap::write(me.as_fd(), MapKind::Gid, map).map_err(hints::explain_map)?;
        }
        Ok(())
    }

    /// `--map-users`/`--map-groups`: a map of several ranges must be written
    /// from the parent user namespace, by the helper left there: directly
    /// as root, else by newuidmap/newgidmap (util-linux's way), both at once.
    fn write_ranges(&self, o: &mut Outside) -> Result<()> {
        let mut runs = Vec::new();
        if let Some(map) = &self.uid_ranges {
            match &self.uid_mapper {
                None => o.write_map(MapKind::Uid, map)?,
                Some(m) => runs.push(mapper_run(m, map)),
            }
        }
        if let Some(map) = &self.gid_ranges {
            if let Some(sg) = self.setgroups {
                o.write_setgroups(sg)?;
            }
            match &self.gid_mapper {
                None => o.write_map(MapKind::Gid, map)?,
                Some(m) => runs.push(mapper_run(m, map)),
            }
        }
        if runs.is_empty() {
            return Ok(());
        }
        if let Some((i, status)) = o.run_mappers(&runs)? {
            anyhow::bail!("{} failed (exit status {status})", runs[i].argv[0]);
        }
        Ok(())
    }

    /// Bind from the old mount namespace, making the mount namespace again
    /// when the kernel refuses it as a possible loop (see `ns::renew_mount_ns`).
    fn bind_from_outside(
        &self,
        outside: &mut Outside,
        old_mnt_ns: Option<&NsFile>,
        bindings: &[Binding],
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            match outside.bind(bindings) {
                Ok(()) => return Ok(()),
                Err(e) if e.errno() == Some(Errno::EINVAL) && old_mnt_ns.is_some() => {
                    if let Some(old) = old_mnt_ns {
                        if !ns_id_quirk(old)? {
                            return Err(e
                                .hinted(
                                    "the file must not be on a shared mount: bind its directory onto \
                                     itself and make that private (mount --bind DIR DIR; \
                                     mount --make-private DIR)",
                                )
                                .into());
                        }
                    }
                    attempt += 1;
                    if !ns::renew_mount_ns(attempt)? {
                        return Err(anyhow::Error::new(e).context(
                            "the kernel keeps refusing to bind this mount namespace (Linux 6.18 \
                             compares per-CPU namespace ids; see DESIGN.md): try again",
                        ));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Bindings for our namespaces of the kinds `want` selects.
    fn bindings(&self, pid: Pid, want: impl Fn(NsKind) -> bool) -> Vec<Binding> {
        let mut v: Vec<Binding> = self
            .persist
            .iter()
            .filter(|(k, _)| want(*k))
            .map(|(k, file)| Binding {
                source: ns::proc_ns_path(Some(pid), k.children_proc_name()),
                target: file.clone(),
            })
            .collect();
        // The mount namespace first: its bind is the one that may need a retry.
        v.sort_by_key(|b| !b.source.ends_with("mnt"));
        v
    }

    /// A PID namespace exists to be bound only once its first process does.
    fn persist_for_children(&self, outside: Option<&mut Outside>) -> Result<()> {
        let pid_bind = self.bindings(getpid(), |k| k == NsKind::Pid);
        if pid_bind.is_empty() {
            return Ok(());
        }
        match outside {
            Some(o) if self.binds_from_outside() => o.bind(&pid_bind)?,
            _ => persist::bind_all(&pid_bind).map_err(|(_, e)| hints::explain_bind(e))?,
        }
        Ok(())
    }

    /// Undo the bindings made so far: through the helper, or here when they
    /// were made here and `here` still sees their paths (no chroot since).
    fn undo_bindings(&self, outside: Option<&mut Outside>, here: bool) {
        match outside {
            Some(o) => o.undo_binds(),
            None if here => {
                for (_, file) in self.persist.iter().rev() {
                    let _ = persist::unbind(file);
                }
            }
            None => {}
        }
    }

    /// Fork the program's process and wait for it. When a PID namespace is
    /// persisted, the child waits at a gate until its namespace is bound, so
    /// a failed binding never leaves a program that ran.
    fn fork_and_wait(&self, mut outside: Option<Outside>) -> Result<Exit> {
        if outside.is_none() {
            if let Some((spawn, proc_mount)) = self.spawn_plan(getpid()) {
                return self.spawn_and_wait(spawn, proc_mount);
            }
        }
        let gate = self
            .persists(NsKind::Pid)
            .then(|| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC))
            .transpose()
            .what(|| "pipe failed".into())?;
        // With namespaces bound to files, the child tells us (a byte on a
        // pipe that exec closes) when it fails before the program runs, so
        // that we undo the bindings: no half-done state.
        let failed = (!self.persist.is_empty())
            .then(|| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC))
            .transpose()
            .what(|| "pipe failed".into())?;
        let parent = getpid();
        match process::fork(self.wait_mode.unwrap_or(WaitMode::Shield))? {
            None => {
                if let Some((gate_r, gate_w)) = gate {
                    drop(gate_w);
                    process::wait_gate(gate_r);
                }
                if let Some((failed_r, failed_w)) = failed {
                    drop(failed_r);
                    let r = self.exec_after_parent_death_signal(parent);
                    let _ = nix::unistd::write(&failed_w, b"!");
                    return r;
                }
                self.exec_after_parent_death_signal(parent)
            }
            Some(child) => {
                if let Err(e) = self.persist_for_children(outside.as_mut()) {
                    child.kill();
                    if let Some(o) = outside.as_mut() {
                        o.undo_binds();
                    }
                    return Err(e);
                }
                drop(gate);
                if let Some((failed_r, failed_w)) = failed {
                    drop(failed_w);
                    let mut byte = [0u8; 1];
                    if matches!(nix::unistd::read(&failed_r, &mut byte), Ok(1)) {
                        self.undo_bindings(outside.as_mut(), true);
                    }
                }
                if let Some(o) = outside {
                    o.finish();
                }
                Ok(child.wait()?)
            }
        }
    }

    /// The child's work as a `process::Spawn` (no fork: see there), when
    /// it is only what a spawned child can do: the death signal, the
    /// propagation of /, proc, and the program with our environment. With
    /// the index of the proc mount. `None`: the child must be forked.
    fn spawn_plan(&self, parent: Pid) -> Option<(process::Spawn, Option<usize>)> {
        let fits = self.persist.is_empty()
            && !self.needs_outside()
            // clone(2) refuses CLONE_VM into another time namespace.
            && !self.kinds.contains(NsKind::Time)
            && self.hostname.is_none()
            && self.root.is_none()
            && self.wd.is_none()
            && self.mount_binfmt.is_none()
            && self.setgid.is_none()
            && self.setuid.is_none()
            && !self.keep_caps
            && !self.env.clears();
        if !fits {
            return None;
        }
        let mut spawn = if self.shell {
            let shell = process::default_shell();
            process::Spawn::exec_as(&shell, &process::login_name(&shell), &[])?
        } else {
            process::Spawn::exec(&self.program)?
        };
        if let Some(sig) = self.kill_child {
            spawn.parent_death_signal(sig, parent);
        }
        // As `prepare` does, in its order.
        if let (true, Some(prop)) = (self.kinds.contains(NsKind::Mnt), self.propagation) {
            spawn.mount(mount::MountCall::set_propagation(
                Path::new("/"),
                prop,
                true,
            )?);
        }
        let mut proc_mount = None;
        if let Some(dir) = &self.mount_proc {
            if self.propagation != Some(Propagation::Private) {
                let call = mount::MountCall::set_propagation(dir, Propagation::Private, true)?;
                spawn.mount(call.tolerating(Errno::EINVAL));
            }
            proc_mount = Some(spawn.mount(mount::MountCall::mount_proc(dir)?));
        }
        Some((spawn, proc_mount))
    }

    /// Spawn the program and wait for it; a failure before the program is
    /// reported here, in the words the forked child would use.
    fn spawn_and_wait(&self, mut spawn: process::Spawn, proc_mount: Option<usize>) -> Result<Exit> {
        let mode = self.wait_mode.unwrap_or(WaitMode::Shield);
        let (child, failure) = spawn.spawn(mode)?;
        let Some(failure) = failure else {
            return Ok(child.wait()?);
        };
        // The child has exited with the status main gives this error (1, or
        // 126/127 for exec), as a forked child does: reap it, and let main
        // report the error and end with that status.
        let _ = child.wait();
        let at_proc = proc_mount.map(process::SpawnStep::Mount) == Some(failure.step);
        Err(match spawn.error(failure) {
            process::SpawnError::Exec(e) => e.into(),
            process::SpawnError::Setup(e) if at_proc => {
                hints::explain_mount_proc(e, self.kinds).into()
            }
            process::SpawnError::Setup(e) => e.into(),
        })
    }

    /// In the child: arrange `--kill-child`, then become the program.
    fn exec_after_parent_death_signal(&self, parent: Pid) -> Result<Exit> {
        if let Some(sig) = self.kill_child {
            process::set_parent_death_signal(sig)?;
            // The parent may have died before the request took effect. (As
            // PID 1 of a new PID namespace we see no parent, getppid says 0,
            // and cannot tell: then only the request stands.)
            let ppid = nix::unistd::getppid();
            if ppid != parent && ppid.as_raw() != 0 {
                nix::sys::signal::raise(sig).what(|| "raise failed".into())?;
            }
        }
        self.exec()
    }

    /// The rest happens in the process that becomes the program.
    fn exec(&self) -> Result<Exit> {
        self.prepare()?;
        self.exec_program()
    }

    /// Everything between the namespaces and the program: the steps that
    /// can still fail for reasons of unshare's own.
    fn prepare(&self) -> Result<()> {
        if let Some(name) = &self.hostname {
            nix::unistd::sethostname(name).what(|| format!("sethostname {name} failed"))?;
        }
        if let (true, Some(prop)) = (self.kinds.contains(NsKind::Mnt), self.propagation) {
            mount::set_propagation(Path::new("/"), prop, true)?;
        }
        if let Some(root) = &self.root {
            nix::unistd::chroot(root)
                .what(|| format!("cannot change root directory to '{}'", root.display()))?;
        }
        if let Some(dir) = self
            .wd
            .as_deref()
            .or(self.root.as_ref().map(|_| Path::new("/")))
        {
            nix::unistd::chdir(dir).what(|| format!("cannot chdir to '{}'", dir.display()))?;
        }
        if let Some(dir) = &self.mount_proc {
            if self.root.is_some() || self.propagation != Some(Propagation::Private) {
                // A custom DIR may hold no mount yet: EINVAL is expected then.
                match mount::set_propagation(dir, Propagation::Private, true) {
                    Err(e) if e.errno() != Some(Errno::EINVAL) => return Err(e.into()),
                    _ => {}
                }
            }
            mount::mount_proc(dir).map_err(|e| hints::explain_mount_proc(e, self.kinds))?;
        }
        if let Some(dir) = &self.mount_binfmt {
            mount::mount_binfmt(dir)?;
            if let Some(spec) = &self.load_interp {
                mount::register_binfmt(dir, spec)?;
            }
        }
        if let Some(gid) = self.setgid {
            creds::clear_groups().or_else(|e| {
                if setgroups_denied() {
                    Ok(())
                } else {
                    Err(hints::explain_setgroups(e))
                }
            })?;
            creds::set_gid(gid)?;
        }
        if let Some(uid) = self.setuid {
            creds::set_uid(uid)?;
        }
        if self.keep_caps && self.kinds.contains(NsKind::User) {
            creds::permitted_to_ambient()?;
        }
        Ok(())
    }

    /// With namespaces bound to files and no fork, the bindings can be
    /// undone only before the helper goes: find the program first, as
    /// execvp(3) will, so that a missing one fails while they still can.
    fn check_program(&self) -> Result<()> {
        if self.persist.is_empty() {
            return Ok(());
        }
        let shell = process::default_shell();
        let program = if self.shell {
            shell.as_os_str()
        } else {
            match self.program.first() {
                Some(p) => p.as_os_str(),
                None => return Ok(()),
            }
        };
        // Where execvp(3) will look, as the spawned child is given it.
        let (candidates, _, refused) = process::exec_candidates(program.as_encoded_bytes());
        let found = match refused {
            Some(errno) => Err(errno),
            None => {
                let mut error = Errno::ENOENT;
                let hit = candidates.iter().any(|c| {
                    match nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK) {
                        Ok(()) => true,
                        Err(e) => {
                            if e == Errno::EACCES {
                                error = e;
                            }
                            false
                        }
                    }
                });
                if hit {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        };
        found.map_err(|errno| {
            anyhow::Error::new(process::ExecError {
                program: program.to_os_string(),
                errno,
            })
        })
    }

    /// Become the program (or the login shell); returns only on failure.
    fn exec_program(&self) -> Result<Exit> {
        // $SHELL is read before the environment is cleared.
        let shell = self.shell.then(process::default_shell);
        self.env.apply();
        let err = match shell {
            Some(shell) => process::exec_as(&shell, &process::login_name(&shell), &[]),
            None => process::exec(&self.program),
        };
        Err(err.into())
    }
}

/// Whether an EINVAL from binding our mount namespace is the kernel's id
/// quirk (our namespace got a smaller id than the one holding the file) and
/// worth a retry; unknown ids (kernels before 6.8) count as the quirk.
fn ns_id_quirk(old: &NsFile) -> Result<bool> {
    let new = NsFile::of_process(None, NsKind::Mnt)?;
    Ok(match (ns::mount_ns_id(old), ns::mount_ns_id(&new)) {
        (Ok(old_id), Ok(new_id)) => new_id <= old_id,
        _ => true,
    })
}

/// The ranges of `--map-users`/`--map-groups` words (None: none given).
fn map_ranges(kind: MapKind, words: &[String]) -> Result<Option<IdMap>> {
    let mut ranges = Vec::new();
    for word in words {
        match word.as_str() {
            "auto" | "subids" => {
                let uid = creds::euid();
                let own = if kind == MapKind::Uid {
                    uid
                } else {
                    creds::egid()
                };
                let name = userdb::passwd_entry(uid).map(|(n, _)| n);
                let path = idmap::subid_path(kind);
                let file = idmap::SubidFile::read(path)?;
                for w in &file.warnings {
                    eprintln!("unshare: warning: {w}");
                }
                let dels = file.delegations(name.as_deref(), uid);
                let first = dels.first().with_context(|| {
                    format!(
                        "no subordinate {kind}s for {} in {path}",
                        name.unwrap_or(uid.to_string())
                    )
                })?;
                ranges.extend(idmap::auto_ranges((word == "subids").then_some(own), first));
            }
            "all" => {
                let me = ProcDir::open(None)?;
                let text = idmap::read_at(me.as_fd(), kind.file_name())?;
                ranges.extend(idmap::parse_proc_map(&text)?);
            }
            // util-linux before 2.39: OUTER,INNER,COUNT.
            w if w.contains(',') => {
                let parts: Vec<&str> = w.split(',').collect();
                let [outer, inner, count] = parts[..] else {
                    usage!("'{w}': expected INNER:OUTER:COUNT")
                };
                ranges.extend(idmap::parse_mapping(&[inner, outer, count])?);
            }
            w => ranges.push(idmap::parse_range(w)?),
        }
    }
    if ranges.is_empty() {
        return Ok(None);
    }
    Ok(Some(IdMap::new(ranges)?))
}

/// The command line of newuidmap/newgidmap for a map (the helper adds the
/// target).
fn mapper_run(mapper: &Mapper, map: &IdMap) -> MapperRun {
    let mut argv = vec![mapper.path.to_string_lossy().into_owned()];
    for r in map.ranges() {
        argv.extend([
            r.inside.to_string(),
            r.outside.to_string(),
            r.count.to_string(),
        ]);
    }
    MapperRun {
        argv,
        fd_target: mapper.takes_fd_targets(),
    }
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}
