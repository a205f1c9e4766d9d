//! `mkmap`: write, show and check the uid/gid maps of a user namespace; and,
//! started as `newuidmap`/`newgidmap`, a drop-in for shadow's setuid
//! helpers that is at least as strict and says why it refuses.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use clap::{
    Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches, Parser, Subcommand,
};

use crate::sys::idmap::{
    self, Grant, IdMap, IdRange, MapKind, Mapper, Setgroups, SubidEntry, SubidFile, Target,
    TargetSpec,
};
use crate::sys::ns::{NsFile, NsKind};
use crate::sys::process::{self, ExecError, Exit};
use crate::sys::{creds, hints, userdb};
use crate::usage;

/// Write, show or check the uid/gid maps of a user namespace.
#[derive(Parser, Debug)]
#[command(
    name = "mkmap",
    version,
    disable_help_subcommand = true,
    max_term_width = 80,
    after_help = "The process is a PID, pid:PID, or fd:N (an inherited pidfd or /proc/PID \
                  directory fd).\nA MAPPING is INSIDE:OUTSIDE:COUNT or three numbers \
                  INSIDE OUTSIDE COUNT; give several for a map of several ranges.\n\n\
                  Examples:\n  mkmap uid 4242 0:100000:65536\n  \
                  mkmap gid 4242 --setgroups deny 0 1000 1\n  mkmap uid 4242 --auto\n  \
                  mkmap show 4242\n  mkmap check uid 0:100000:65536"
)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Write the uid map of a process's user namespace
    Uid {
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Write the gid map (and setgroups) of a process's user namespace
    Gid {
        /// Write allow or deny to setgroups first
        #[arg(long = "setgroups", value_name = "allow|deny", value_parser = ["allow", "deny"])]
        setgroups: Option<String>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show the uid map, gid map and setgroups of a process
    Show {
        /// Print JSON instead of a table
        #[arg(long = "json")]
        json: bool,
        /// The process: PID, pid:PID or fd:N (default: this one)
        #[arg(value_name = "PID")]
        target: Option<String>,
    },
    /// Say whether you may write a map, and if not which range is refused and why
    Check {
        /// Which map: uid or gid
        #[arg(value_name = "uid|gid", value_parser = ["uid", "gid"])]
        kind: String,
        /// The ranges, each INSIDE:OUTSIDE:COUNT or INSIDE OUTSIDE COUNT
        #[arg(value_name = "MAPPING", required = true, num_args = 1.., allow_hyphen_values = true)]
        mapping: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
struct WriteArgs {
    /// Map your first delegation (/etc/subuid or /etc/subgid) from 0
    #[arg(long = "auto", conflicts_with_all = ["subids", "mapping"])]
    auto: bool,
    /// Map your own id to 0 and your first delegation from 1
    #[arg(long = "subids", conflicts_with = "mapping")]
    subids: bool,
    /// The process whose namespace gets the map: PID, pid:PID or fd:N
    #[arg(value_name = "PID")]
    target: String,
    /// The ranges, each INSIDE:OUTSIDE:COUNT or INSIDE OUTSIDE COUNT
    #[arg(value_name = "MAPPING", num_args = 0.., allow_hyphen_values = true)]
    mapping: Vec<String>,
}

pub fn command() -> Command {
    Args::command()
}

/// The command line checked as `run` checks it, opening and writing
/// nothing (the fuzzer's entry).
pub fn validate(m: &ArgMatches) -> Result<()> {
    match Args::from_arg_matches(m)?.action {
        Action::Uid { write } | Action::Gid { write, .. } => {
            TargetSpec::parse(&write.target)?;
            if !(write.auto || write.subids) {
                if write.mapping.is_empty() {
                    usage!("no mapping given (INSIDE:OUTSIDE:COUNT, or --auto, or --subids)")
                }
                IdMap::new(idmap::parse_mapping(&write.mapping)?)?;
            }
        }
        Action::Show { target, .. } => {
            target.as_deref().map(TargetSpec::parse).transpose()?;
        }
        Action::Check { mapping, .. } => {
            IdMap::new(idmap::parse_mapping(&mapping)?)?;
        }
    }
    Ok(())
}

/// newuidmap/newgidmap's command line checked as they check it, before
/// any file is read (the fuzzer's entry).
pub fn validate_mapper(m: &ArgMatches) -> Result<()> {
    mapper_args(m).map(drop)
}

/// The target and the map of a newuidmap/newgidmap command line.
fn mapper_args(m: &ArgMatches) -> Result<(TargetSpec, IdMap)> {
    let args: Vec<String> = m
        .get_many::<String>("args")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if args.len() < 4 || (args.len() - 1) % 3 != 0 {
        usage!("expected a target and one or more INSIDE OUTSIDE COUNT triplets")
    }
    let spec = TargetSpec::parse(&args[0])?;
    if args[1..].iter().any(|w| w.contains(':')) {
        usage!("ranges are given as three numbers (INSIDE OUTSIDE COUNT), not INSIDE:OUTSIDE:COUNT")
    }
    Ok((spec, IdMap::new(idmap::parse_mapping(&args[1..])?)?))
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    match Args::from_arg_matches_mut(m)?.action {
        Action::Uid { write } => write_map(MapKind::Uid, &write, None),
        Action::Gid { setgroups, write } => {
            let sg = setgroups.map(|w| match w.as_str() {
                "allow" => Setgroups::Allow,
                _ => Setgroups::Deny,
            });
            write_map(MapKind::Gid, &write, sg)
        }
        Action::Show { json, target } => show(target.as_deref(), json),
        Action::Check { kind, mapping } => {
            let kind = if kind == "uid" {
                MapKind::Uid
            } else {
                MapKind::Gid
            };
            check(kind, &mapping)
        }
    }
}

/// `mkmap uid|gid TARGET ...`: validate everything, then write once.
fn write_map(kind: MapKind, a: &WriteArgs, setgroups: Option<Setgroups>) -> Result<Exit> {
    let spec = TargetSpec::parse(&a.target)?;
    let ranges = if a.auto || a.subids {
        let (own, dels) = my_delegations(kind)?;
        let first = dels.first().with_context(|| {
            format!(
                "--{}: {} delegates nothing to you",
                if a.auto { "auto" } else { "subids" },
                idmap::subid_path(kind)
            )
        })?;
        idmap::auto_ranges(a.subids.then_some(own), first)
    } else if a.mapping.is_empty() {
        usage!("no mapping given (INSIDE:OUTSIDE:COUNT, or --auto, or --subids)")
    } else {
        idmap::parse_mapping(&a.mapping)?
    };
    let map = IdMap::new(ranges)?;
    let target = Target::open(spec)?;
    let current = target.map(kind)?;
    if !current.is_empty() {
        anyhow::bail!(
            "the {kind} map of process {} is already written ({}): the kernel takes a map only once",
            target.pid,
            show_ranges(&current)
        );
    }
    let cap = if kind == MapKind::Uid {
        creds::CAP_SETUID
    } else {
        creds::CAP_SETGID
    };
    let own = match kind {
        MapKind::Uid => creds::euid(),
        MapKind::Gid => creds::egid(),
    };
    let only_own = matches!(map.ranges(), [r] if r.outside == own && r.count == 1);
    if !creds::has_effective(cap) && !only_own {
        // Without privilege a wider map is newuidmap's to write: hand it
        // over to a setuid (or file-capability) one on PATH, if there is one.
        if let Some(mapper) = Mapper::find(kind).filter(|m| m.privileged) {
            if setgroups == Some(Setgroups::Deny) {
                idmap::write_setgroups(target.dir(), Setgroups::Deny)?;
            }
            return Err(exec_mapper(&mapper, &target, &map)?.into());
        }
    }
    // user_namespaces(7): a writer without CAP_SETGID may map only its own
    // gid, and only once setgroups is denied.
    let setgroups = setgroups.or_else(|| {
        (kind == MapKind::Gid && !creds::has_effective(cap)).then_some(Setgroups::Deny)
    });
    if let Some(sg) = setgroups {
        idmap::write_setgroups(target.dir(), sg)?;
    }
    idmap::write(target.dir(), kind, &map).map_err(|e| explain_refusal(e, kind, &map))?;
    Ok(Exit::SUCCESS)
}

/// Replace this process with a privileged newuidmap/newgidmap for `map`,
/// pointed at the target we hold open (`fd:N`) when it is ours, else by PID.
/// Returns only if the exec failed.
fn exec_mapper(mapper: &Mapper, target: &Target, map: &IdMap) -> Result<ExecError> {
    use std::os::fd::AsRawFd;
    let target_arg = if mapper.takes_fd_targets() {
        let fd = target.dir().as_raw_fd();
        nix::fcntl::fcntl(
            target.dir(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .context("cannot pass the target on")?;
        format!("fd:{fd}")
    } else {
        target.pid.to_string()
    };
    let mut argv: Vec<std::ffi::OsString> = vec![mapper.path.clone().into(), target_arg.into()];
    for r in map.ranges() {
        argv.extend([r.inside, r.outside, r.count].map(|n| n.to_string().into()));
    }
    Ok(process::exec(&argv))
}

/// The kernel's EPERM, with the checks that tell which range it refused.
fn explain_refusal(e: crate::sys::Error, kind: MapKind, map: &IdMap) -> anyhow::Error {
    if e.errno() != Some(nix::errno::Errno::EPERM) || creds::euid() == 0 {
        return hints::explain_map(e).into();
    }
    let mapper = if kind == MapKind::Uid {
        "newuidmap"
    } else {
        "newgidmap"
    };
    let refused = my_delegations(kind).ok().and_then(|(own, dels)| {
        map.ranges()
            .iter()
            .find_map(|r| idmap::grant(kind, r, own, &dels).err().map(|why| (r, why)))
    });
    let hint = match refused {
        Some((r, why)) => format!("{r} is refused: {why}"),
        None if map.ranges().len() > 1 => format!(
            "without privilege only your own {kind} may be mapped; delegated ranges are written by {mapper} (setuid)"
        ),
        None if kind == MapKind::Gid => {
            "without CAP_SETGID your own gid may be mapped only once setgroups is denied: \
             add --setgroups deny"
                .to_string()
        }
        None => "without privilege only your own id may be mapped, once".to_string(),
    };
    anyhow::Error::new(e.hinted(hint))
}

/// The caller's own id of a kind and its delegations, by user name then uid.
fn my_delegations(kind: MapKind) -> Result<(u32, Vec<SubidEntry>)> {
    let (uid, own) = (
        creds::euid(),
        match kind {
            MapKind::Uid => creds::euid(),
            MapKind::Gid => creds::egid(),
        },
    );
    let name = userdb::passwd_entry(uid).map(|(n, _)| n);
    let file = read_subids(kind, "mkmap")?;
    Ok((own, file.delegations(name.as_deref(), uid)))
}

/// Read the delegation file, warning about the lines it skips.
fn read_subids(kind: MapKind, applet: &str) -> Result<SubidFile> {
    let file = SubidFile::read(idmap::subid_path(kind))?;
    for w in &file.warnings {
        eprintln!("{applet}: warning: {w}");
    }
    Ok(file)
}

fn show_ranges(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mkmap show [TARGET]`.
fn show(target: Option<&str>, json: bool) -> Result<Exit> {
    let spec = match target {
        Some(t) => TargetSpec::parse(t)?,
        None => TargetSpec::Pid(std::process::id() as i32),
    };
    let target = Target::open(spec)?;
    let uid_map = target.map(MapKind::Uid)?;
    let gid_map = target.map(MapKind::Gid)?;
    let setgroups = target.setgroups()?;
    // ns/user needs ptrace access to the process; the maps do not.
    let userns = NsFile::of_proc_dir(target.dir(), NsKind::User)
        .and_then(|ns| Ok((ns.inode(), ns.owner_uid()?)));
    let owner_name = userns
        .as_ref()
        .ok()
        .and_then(|&(_, owner)| userdb::passwd_entry(owner).map(|(n, _)| n));
    let mut out = String::new();
    if json {
        let ranges = |rs: &[IdRange]| {
            rs.iter()
                .map(|r| {
                    format!(
                        "{{\"inside\":{},\"outside\":{},\"count\":{}}}",
                        r.inside, r.outside, r.count
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let name = owner_name
            .map(|n| json_string(&n))
            .unwrap_or_else(|| "null".into());
        let ns = match &userns {
            Ok((inode, owner)) => {
                format!("{{\"inode\":{inode},\"owner_uid\":{owner},\"owner_name\":{name}}}")
            }
            Err(_) => "null".to_string(),
        };
        let _ = writeln!(
            out,
            "{{\"pid\":{},\"user_namespace\":{ns},\
             \"uid_map\":[{}],\"gid_map\":[{}],\"setgroups\":{}}}",
            target.pid,
            ranges(&uid_map),
            ranges(&gid_map),
            json_string(&setgroups)
        );
    } else {
        let who = owner_name.map(|n| format!(" ({n})")).unwrap_or_default();
        let _ = match &userns {
            Ok((inode, owner)) => writeln!(
                out,
                "process {}: user namespace {inode} owned by uid {owner}{who}",
                target.pid
            ),
            Err(e) => writeln!(
                out,
                "process {}: user namespace not visible ({e})",
                target.pid
            ),
        };
        let _ = writeln!(
            out,
            "{:<5} {:>10} {:>10} {:>10}",
            "MAP", "INSIDE", "OUTSIDE", "COUNT"
        );
        for (kind, map) in [("uid", &uid_map), ("gid", &gid_map)] {
            if map.is_empty() {
                let _ = writeln!(out, "{kind:<5} {:>10}", "(unwritten)");
            }
            for r in map {
                let _ = writeln!(
                    out,
                    "{kind:<5} {:>10} {:>10} {:>10}",
                    r.inside, r.outside, r.count
                );
            }
        }
        let _ = writeln!(out, "setgroups: {setgroups}");
    }
    print!("{out}");
    Ok(Exit::SUCCESS)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `mkmap check uid|gid MAPPING...`: decide as the kernel and newuidmap
/// would, with the privileges installed here, and write nothing.
fn check(kind: MapKind, mapping: &[String]) -> Result<Exit> {
    let map = IdMap::new(idmap::parse_mapping(mapping)?)?;
    let (cap, cap_name) = match kind {
        MapKind::Uid => (creds::CAP_SETUID, "CAP_SETUID"),
        MapKind::Gid => (creds::CAP_SETGID, "CAP_SETGID"),
    };
    let needs_setfcap = kind == MapKind::Uid && map.ranges().iter().any(|r| r.outside == 0);
    if creds::has_effective(cap) {
        if needs_setfcap && !creds::has_effective(creds::CAP_SETFCAP) {
            anyhow::bail!(
                "refused: mapping host uid 0 needs CAP_SETFCAP (Linux 5.12 and later), which you do not hold"
            );
        }
        println!("allowed: you hold {cap_name}, so you may write any valid map directly");
        return Ok(Exit::SUCCESS);
    }
    let (own, dels) = my_delegations(kind)?;
    let [only] = map.ranges() else {
        return check_through_mapper(kind, &map, own, &dels);
    };
    if only.outside == own && only.count == 1 {
        let extra = if kind == MapKind::Gid {
            " (after setgroups is denied)"
        } else {
            ""
        };
        println!("allowed: {only} maps only your own {kind}, which you may write directly{extra}");
        return Ok(Exit::SUCCESS);
    }
    check_through_mapper(kind, &map, own, &dels)
}

fn check_through_mapper(kind: MapKind, map: &IdMap, own: u32, dels: &[SubidEntry]) -> Result<Exit> {
    let name = kind.mapper_name();
    let mapper = match Mapper::find(kind) {
        Some(m) if m.privileged => m,
        Some(m) => anyhow::bail!(
            "refused: only your own {kind} may be mapped without privilege, and {} is neither setuid root nor has file capabilities",
            m.path.display()
        ),
        None => anyhow::bail!(
            "refused: only your own {kind} may be mapped without privilege, and there is no {name} on PATH"
        ),
    };
    for r in map.ranges() {
        match idmap::grant(kind, r, own, dels) {
            Ok(Grant::OwnId) => println!("{r}: allowed: your own {kind}"),
            Ok(Grant::Delegated) => {
                println!("{r}: allowed: delegated in {}", idmap::subid_path(kind))
            }
            Err(why) => anyhow::bail!("refused: {r}: {why}"),
        }
    }
    println!("allowed: {} may write this map", mapper.path.display());
    Ok(Exit::SUCCESS)
}

/// `newuidmap`/`newgidmap`: shadow's command line, no options.
fn mapper_command(kind: MapKind) -> Command {
    let name = kind.mapper_name();
    Command::new(name)
        .about(format!(
            "Write the {kind} map of a process's user namespace within your delegations in {}",
            idmap::subid_path(kind)
        ))
        .override_usage(format!(
            "{name} PID|fd:N INSIDE OUTSIDE COUNT [INSIDE OUTSIDE COUNT]..."
        ))
        .disable_version_flag(true)
        .max_term_width(80)
        .arg(
            Arg::new("args")
                .value_name("ARGS")
                .help("The process (PID or fd:N), then INSIDE OUTSIDE COUNT for each range")
                .num_args(0..)
                .allow_hyphen_values(true)
                .trailing_var_arg(true)
                .action(ArgAction::Append),
        )
}

pub fn newuidmap_command() -> Command {
    mapper_command(MapKind::Uid)
}

pub fn newgidmap_command() -> Command {
    mapper_command(MapKind::Gid)
}

pub fn newuidmap_run(m: &mut ArgMatches) -> Result<Exit> {
    run_mapper(MapKind::Uid, m)
}

pub fn newgidmap_run(m: &mut ArgMatches) -> Result<Exit> {
    run_mapper(MapKind::Gid, m)
}

/// shadow's rules: the caller owns the target; each range is the caller's
/// own id alone or lies in its delegations (root is not exempt); newgidmap
/// denies setgroups unless a range comes from /etc/subgid (CVE-2018-7169).
fn run_mapper(kind: MapKind, m: &ArgMatches) -> Result<Exit> {
    let raised = creds::is_raised();
    if raised {
        // Nothing from the caller's environment may steer a privileged helper.
        for (name, _) in std::env::vars_os() {
            std::env::remove_var(name);
        }
    }
    let (spec, map) = mapper_args(m)?;
    let needs_setfcap = kind == MapKind::Uid && map.ranges().iter().any(|r| r.outside == 0);
    // The user database and the delegation file (a fixed path) are read
    // before the drop, as shadow does, so a subuid file readable only by
    // root still works; nothing the caller names is touched until after it.
    let (ruid, rgid) = (creds::uid(), creds::gid());
    let Some((name, pw_gid)) = userdb::passwd_entry(ruid) else {
        anyhow::bail!("cannot determine your user name: uid {ruid} has no passwd entry");
    };
    let dels = read_subids(kind, kind.mapper_name())?.delegations(Some(&name), ruid);
    if raised {
        let mut keep = vec![match kind {
            MapKind::Uid => creds::CAP_SETUID,
            MapKind::Gid => creds::CAP_SETGID,
        }];
        if needs_setfcap {
            keep.push(creds::CAP_SETFCAP);
        }
        creds::drop_to_caller(&keep).context("cannot drop privileges")?;
    }
    let target = Target::open(spec)?;
    if target.uid != ruid || target.gid != rgid {
        anyhow::bail!(
            "process {} is owned by uid {} gid {}, not by you (uid {ruid} gid {rgid}): \
             you may write only the maps of your own processes",
            target.pid,
            target.uid,
            target.gid
        );
    }
    if pw_gid != rgid {
        anyhow::bail!(
            "your real gid {rgid} is not your primary group {pw_gid} ({name}'s passwd entry)"
        );
    }
    let own = match kind {
        MapKind::Uid => ruid,
        MapKind::Gid => pw_gid,
    };
    let mut from_subids = false;
    for r in map.ranges() {
        match idmap::grant(kind, r, own, &dels) {
            Ok(Grant::Delegated) => from_subids = true,
            Ok(Grant::OwnId) => {}
            Err(why) => anyhow::bail!(
                "range {} {} {} refused: {why}",
                r.inside,
                r.outside,
                r.count
            ),
        }
    }
    if needs_setfcap && !creds::has_effective(creds::CAP_SETFCAP) {
        anyhow::bail!(
            "mapping host uid 0 needs CAP_SETFCAP (Linux 5.12 and later), which this {} does not hold \
             (installed with file capabilities cap_setuid only?)",
            kind.mapper_name()
        );
    }
    let current = target.map(kind)?;
    if !current.is_empty() {
        anyhow::bail!(
            "the {kind} map of process {} is already written ({}): the kernel takes a map only once",
            target.pid,
            show_ranges(&current)
        );
    }
    // CVE-2018-7169: a gid map made only of the caller's own gid must not
    // let the namespace drop supplementary groups the caller was given to
    // restrict it (negative group permissions): deny setgroups first.
    if kind == MapKind::Gid && !from_subids && target.setgroups()? != "deny" {
        idmap::write_setgroups(target.dir(), Setgroups::Deny)?;
    }
    idmap::write(target.dir(), kind, &map).map_err(|e| {
        let cap = match kind {
            MapKind::Uid => creds::CAP_SETUID,
            MapKind::Gid => creds::CAP_SETGID,
        };
        if e.errno() == Some(nix::errno::Errno::EPERM) && !creds::has_effective(cap) {
            e.hinted(format!(
                "this {} is neither setuid root nor has file capabilities: install it with \
                 make install-setuid",
                kind.mapper_name()
            ))
        } else {
            e
        }
    })?;
    Ok(Exit::SUCCESS)
}
