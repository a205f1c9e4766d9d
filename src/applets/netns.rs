//! `netns`: named network namespaces, a drop-in for iproute2's `ip netns`
//! (same commands, same `/run/netns`), and the wiring between namespaces
//! (veth pairs, addresses, routes, forwarding, bridges) over rtnetlink.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches, Parser, Subcommand};
use nix::unistd::Pid;

use crate::sys::netlink::{self, check_ifname, Cidr, Socket};
use crate::sys::ns::{NsFile, NsKind};
use crate::sys::persist::{self, NetnsEvent, NetnsName, NetnsRef, NetnsWatch};
use crate::sys::process::{self, Exit, WaitMode};
use crate::usage;

/// Manage named network namespaces (as `ip netns`) and wire them together.
#[derive(Parser, Debug)]
#[command(
    name = "netns",
    version,
    disable_help_subcommand = true,
    max_term_width = 80,
    after_help = "NETNS (for the wiring commands) is a name in /run/netns, a path to a \
namespace file, pid:PID, or - for our own namespace.\nWith no command, lists the named namespaces."
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the named network namespaces, with their ids
    #[command(visible_aliases = ["ls", "lst"])]
    List,
    /// Create named network namespaces (all or none)
    Add {
        /// Names: one path component each, at most 255 bytes
        #[arg(required = true, value_name = "NAME")]
        names: Vec<OsString>,
    },
    /// Name the network namespace of a running process
    Attach {
        /// The name to give
        name: OsString,
        /// The process whose network namespace it names
        pid: String,
    },
    /// Assign an id (a number, or auto) to a named namespace
    Set {
        /// The named namespace
        name: OsString,
        /// A number from 0, or auto
        #[arg(allow_hyphen_values = true)]
        nsid: String,
    },
    /// Delete named network namespaces
    #[command(visible_alias = "del")]
    Delete {
        /// Delete every named namespace (also -all)
        #[arg(long = "all")]
        all: bool,
        /// The names to delete (their namespaces go once unused)
        #[arg(value_name = "NAME", allow_hyphen_values = true)]
        names: Vec<OsString>,
    },
    /// Print the names of a process's network namespace
    Identify {
        /// The process (default: this one)
        pid: Option<String>,
    },
    /// Print the processes in a named namespace
    Pids {
        /// The named namespace
        name: OsString,
    },
    /// Run a command in a named namespace (NAME CMD..., or --all CMD...)
    Exec {
        /// Run the command in every named namespace in turn (also -all)
        #[arg(long = "all")]
        all: bool,
        /// The namespace's name, then the command and its arguments
        #[arg(
            value_names = ["NAME", "CMD"],
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<OsString>,
    },
    /// Print names added to and deleted from /run/netns as they happen
    Monitor,
    /// List the ids this namespace assigned ([target-nsid N] [nsid N])
    ListId {
        /// Ids as another namespace (target-nsid) sees them; one id only (nsid)
        #[arg(value_name = "target-nsid N | nsid N")]
        args: Vec<String>,
    },
    /// Connect two namespaces with a veth pair
    Link {
        /// One end: a namespace, and the interface name in it (default v-OTHER)
        #[arg(value_name = "NETNS_A[:IF]", allow_hyphen_values = true)]
        a: String,
        /// The other end
        #[arg(value_name = "NETNS_B[:IF]", allow_hyphen_values = true)]
        b: String,
        /// Addresses for the two ends: CIDR_A,CIDR_B
        #[arg(long = "addr", value_name = "CIDR_A,CIDR_B")]
        addr: Option<String>,
        /// MTU of both ends
        #[arg(long = "mtu", value_name = "N")]
        mtu: Option<u32>,
    },
    /// Add addresses (IPv4 or IPv6) to an interface
    Addr {
        /// The namespace
        #[arg(value_name = "NETNS")]
        ns: String,
        /// The interface
        ifname: String,
        /// Addresses with their prefix length (10.0.0.1/24, fd00::1/64)
        #[arg(required = true, value_name = "CIDR")]
        cidrs: Vec<String>,
    },
    /// Set interfaces up (default: lo)
    Up {
        /// The namespace
        #[arg(value_name = "NETNS")]
        ns: String,
        /// The interfaces
        #[arg(value_name = "IFNAME")]
        ifnames: Vec<String>,
    },
    /// Set interfaces down
    Down {
        /// The namespace
        #[arg(value_name = "NETNS")]
        ns: String,
        /// The interfaces
        #[arg(value_name = "IFNAME", required = true)]
        ifnames: Vec<String>,
    },
    /// Add a route: NETNS DEST|default via GW [dev IF]
    Route {
        /// The namespace, then the route
        #[arg(
            value_names = ["NETNS", "DEST|default via GW [dev IF]"],
            num_args = 1..,
            required = true
        )]
        args: Vec<String>,
    },
    /// Turn forwarding (IPv4 and IPv6) on or off in a namespace
    Forward {
        /// Turn it on or off
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The namespace
        #[arg(value_name = "NETNS")]
        ns: String,
    },
    /// Make a bridge with the subnet's first address, a veth into each member
    Bridge {
        /// The namespace that holds the bridge, and the bridge's name
        #[arg(value_name = "NETNS:BRIDGE", allow_hyphen_values = true)]
        bridge: String,
        /// The members' subnet; the bridge takes its first address
        #[arg(long = "subnet", value_name = "CIDR", required = true)]
        subnet: String,
        /// The members: each gets IF (default eth0), the next address, a default route
        #[arg(
            value_name = "MEMBER[:IF]",
            required = true,
            allow_hyphen_values = true
        )]
        members: Vec<String>,
    },
    /// Show a namespace's interfaces, addresses and routes
    Show {
        /// The namespace (none: list the names, as list does)
        #[arg(value_name = "NETNS")]
        ns: Option<String>,
        /// Print JSON
        #[arg(long = "json", short = 'j')]
        json: bool,
    },
}

pub fn command() -> Command {
    Args::command()
}

/// The command line checked as `run` checks it before any namespace is
/// opened or made (the fuzzer's entry): names, designators, interface
/// names, addresses, ids and numbers.
pub fn validate(m: &ArgMatches) -> Result<()> {
    let args = Args::from_arg_matches(m)?;
    let refs = |words: &[&str]| -> Result<()> {
        for w in words {
            NetnsRef::parse(w)?;
        }
        Ok(())
    };
    let ifnames = |names: &[String]| -> Result<()> {
        for i in names {
            check_ifname(i)?;
        }
        Ok(())
    };
    match args.cmd.unwrap_or(Cmd::List) {
        Cmd::List | Cmd::Monitor | Cmd::Show { ns: None, .. } => {}
        Cmd::Delete { all: false, names } if names.first().is_some_and(|w| w == "-all") => {}
        Cmd::Add { names } | Cmd::Delete { all: false, names } => {
            if names.is_empty() {
                usage!("no namespace name given");
            }
            for n in &names {
                name(n)?;
            }
        }
        Cmd::Delete { all: true, .. } => {}
        Cmd::Attach { name: n, pid } => {
            name(&n)?;
            parse_pid(&pid)?;
        }
        Cmd::Set { name: n, nsid } => {
            name(&n)?;
            parse_nsid(&nsid)?;
        }
        Cmd::Identify { pid } => {
            pid.as_deref().map(parse_pid).transpose()?;
        }
        Cmd::Pids { name: n } => {
            name(&n)?;
        }
        Cmd::Exec { all, args } => {
            let program = match (all, args.first()) {
                (true, _) => &args[..],
                (false, Some(w)) if w == "-all" => &args[1..],
                (false, Some(w)) => {
                    name(w)?;
                    &args[1..]
                }
                (false, None) => usage!("no namespace name given"),
            };
            if program.is_empty() {
                usage!("no command given");
            }
        }
        Cmd::ListId { args } => {
            list_id_args(&args)?;
        }
        Cmd::Link { a, b, addr, mtu } => {
            link_args(&a, &b, addr.as_deref(), mtu)?;
        }
        Cmd::Addr { ns, ifname, cidrs } => {
            for c in &cidrs {
                parse_cidr(c)?;
            }
            check_ifname(&ifname)?;
            refs(&[&ns])?;
        }
        Cmd::Up { ns, ifnames: i } | Cmd::Down { ns, ifnames: i } => {
            ifnames(&i)?;
            refs(&[&ns])?;
        }
        Cmd::Route { args } => {
            let (ns, ..) = route_args(&args)?;
            refs(&[ns])?;
        }
        Cmd::Forward { ns, .. } | Cmd::Show { ns: Some(ns), .. } => refs(&[&ns])?,
        Cmd::Bridge {
            bridge,
            subnet,
            members,
        } => {
            bridge_args(&bridge, &subnet, &members)?;
        }
    }
    Ok(())
}

pub fn run(m: &mut ArgMatches) -> Result<Exit> {
    let args = Args::from_arg_matches_mut(m)?;
    match args.cmd.unwrap_or(Cmd::List) {
        Cmd::List | Cmd::Show { ns: None, .. } => list(),
        Cmd::Add { names } => add(&names),
        Cmd::Attach { name, pid } => attach(&name, &pid),
        Cmd::Set { name, nsid } => set(&name, &nsid),
        Cmd::Delete { all, names } => delete(all, &names),
        Cmd::Identify { pid } => identify(pid.as_deref()),
        Cmd::Pids { name } => pids(&name),
        Cmd::Exec { all, args } => exec(all, args),
        Cmd::Monitor => monitor(),
        Cmd::ListId { args } => list_id(&args),
        Cmd::Link { a, b, addr, mtu } => link(&a, &b, addr.as_deref(), mtu),
        Cmd::Addr { ns, ifname, cidrs } => addr(&ns, &ifname, &cidrs),
        Cmd::Up { ns, ifnames } => updown(&ns, &ifnames, true),
        Cmd::Down { ns, ifnames } => updown(&ns, &ifnames, false),
        Cmd::Route { args } => route(&args),
        Cmd::Forward { state, ns } => forward(&ns, state == "on"),
        Cmd::Bridge {
            bridge,
            subnet,
            members,
        } => make_bridge(&bridge, &subnet, &members),
        Cmd::Show { ns: Some(ns), json } => show(&ns, json),
    }
}

fn name(word: &OsStr) -> Result<NetnsName> {
    Ok(NetnsName::new(word)?)
}

fn parse_pid(word: &str) -> Result<Pid> {
    match word.parse::<i32>() {
        Ok(n) if n > 0 && word.bytes().all(|b| b.is_ascii_digit()) => Ok(Pid::from_raw(n)),
        _ => usage!("invalid PID '{word}'"),
    }
}

// ---- ip netns -------------------------------------------------------------

fn list() -> Result<Exit> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (name, id) in named_nsids(None)? {
        out.write_all(name.as_encoded_bytes())?;
        match id {
            Some(id) => writeln!(out, " (id: {id})")?,
            None => writeln!(out)?,
        }
    }
    out.flush()?;
    Ok(Exit::SUCCESS)
}

/// The entries of /run/netns with the id our namespace gives each (asked
/// all at once on `sock`, or a socket of our own). Ids are a nicety: without
/// a socket the names still come.
fn named_nsids(sock: Option<&mut Socket>) -> Result<Vec<(OsString, Option<i32>)>> {
    let names = persist::list_netns()?;
    let files: Vec<Option<NsFile>> = names
        .iter()
        .map(|n| NsFile::open(&Path::new(persist::NETNS_RUN_DIR).join(n)).ok())
        .collect();
    let fds: Vec<i32> = files
        .iter()
        .map(|f| f.as_ref().map(|f| f.as_fd().as_raw_fd()).unwrap_or(-1))
        .collect();
    let ids = match sock {
        Some(s) => s.nsids_of(&fds),
        None => Socket::open().and_then(|mut s| s.nsids_of(&fds)),
    }
    .unwrap_or_else(|_| vec![None; fds.len()]);
    Ok(names.into_iter().zip(ids).collect())
}

fn add(words: &[OsString]) -> Result<Exit> {
    let names = words.iter().map(|w| name(w)).collect::<Result<Vec<_>>>()?;
    persist::prepare_netns_dir()?;
    persist::create_netns(&names)?;
    Ok(Exit::SUCCESS)
}

fn attach(word: &OsStr, pid: &str) -> Result<Exit> {
    let n = name(word)?;
    let pid = parse_pid(pid)?;
    let source = crate::sys::ns::proc_ns_path(Some(pid), "net");
    NsFile::open(&source)?;
    persist::prepare_netns_dir()?;
    persist::bind_netns(&source, &n)?;
    Ok(Exit::SUCCESS)
}

fn set(word: &OsStr, nsid: &str) -> Result<Exit> {
    let n = name(word)?;
    let id = parse_nsid(nsid)?;
    let ns = NetnsRef::Name(n.clone()).open()?;
    Socket::open()?
        .set_nsid(ns.as_fd().as_raw_fd(), id)
        .with_context(|| format!("cannot set the id of {n}"))?;
    Ok(Exit::SUCCESS)
}

/// `auto` (-1 to the kernel) or a number from 0.
fn parse_nsid(nsid: &str) -> Result<i32> {
    Ok(match nsid {
        "auto" => -1,
        _ => match nsid.parse::<i32>() {
            Ok(id) if id >= 0 => id,
            _ => usage!("invalid nsid '{nsid}' (a number from 0, or auto)"),
        },
    })
}

fn delete(all: bool, words: &[OsString]) -> Result<Exit> {
    let all = all || words.first().map(|w| w == "-all").unwrap_or(false);
    let names: Vec<NetnsName> = if all {
        persist::list_netns()?
            .iter()
            .filter_map(|w| NetnsName::new(w).ok())
            .collect()
    } else {
        if words.is_empty() {
            usage!("no namespace name given");
        }
        words.iter().map(|w| name(w)).collect::<Result<_>>()?
    };
    let mut failed = false;
    for n in &names {
        if let Err(e) = persist::unbind_netns(n) {
            eprintln!("netns: {e}");
            failed = true;
        }
    }
    Ok(if failed { Exit::FAILURE } else { Exit::SUCCESS })
}

fn identify(pid: Option<&str>) -> Result<Exit> {
    let source = match pid {
        Some(p) => crate::sys::ns::proc_ns_path(Some(parse_pid(p)?), "net"),
        None => crate::sys::ns::proc_ns_path(None, "net"),
    };
    let wanted = persist::ns_identity(&source)?;
    // As ip prints it: one line, the last name that matches in directory
    // order, or an empty line when none does.
    let found = persist::list_netns()?.into_iter().rfind(|n| {
        persist::ns_identity(&Path::new(persist::NETNS_RUN_DIR).join(n)).ok() == Some(wanted)
    });
    let mut out = std::io::stdout().lock();
    if let Some(n) = found {
        out.write_all(n.as_encoded_bytes())?;
    }
    writeln!(out)?;
    Ok(Exit::SUCCESS)
}

fn pids(word: &OsStr) -> Result<Exit> {
    let n = name(word)?;
    let ns = NetnsRef::Name(n).open()?;
    let wanted = persist::ns_identity(ns.path())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for entry in std::fs::read_dir("/proc")
        .context("cannot open /proc")?
        .flatten()
    {
        let pid = entry.file_name();
        let Some(pid) = pid.to_str() else { continue };
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = format!("/proc/{pid}/ns/net");
        if persist::ns_identity(Path::new(&path)).ok() == Some(wanted) {
            writeln!(out, "{pid}")?;
        }
    }
    out.flush()?;
    Ok(Exit::SUCCESS)
}

fn exec(all: bool, mut args: Vec<OsString>) -> Result<Exit> {
    if !all && args.first().map(|a| a == "-all").unwrap_or(false) {
        args.remove(0);
        return exec(true, args);
    }
    if all {
        if args.is_empty() {
            usage!("no command given");
        }
        return exec_all(&args);
    }
    let n = name(&args[0])?;
    let program = &args[1..];
    if program.is_empty() {
        usage!("no command given");
    }
    switch_to(&n)?;
    Err(process::exec(program).into())
}

/// Enter the named namespace as `ip netns exec` does: the network namespace,
/// then a mount namespace of our own with its /sys and /etc/netns/NAME.
fn switch_to(n: &NetnsName) -> Result<()> {
    let ns = NetnsRef::Name(n.clone()).open()?;
    ns.enter()
        .with_context(|| format!("cannot enter network namespace \"{n}\""))?;
    for warning in persist::isolate_mounts_for(Some(n))? {
        eprintln!("netns: {warning}");
    }
    Ok(())
}

fn exec_all(program: &[OsString]) -> Result<Exit> {
    let mut failed = false;
    for word in persist::list_netns()? {
        let Ok(n) = NetnsName::new(&word) else {
            continue;
        };
        println!("\nnetns: {n}");
        std::io::stdout().flush()?;
        match process::fork(WaitMode::Shield)? {
            None => {
                let err = match switch_to(&n) {
                    Ok(()) => anyhow::Error::new(process::exec(program)),
                    Err(e) => e,
                };
                eprintln!("netns: {err:#}");
                std::process::exit(1);
            }
            Some(child) => {
                let exit = child.wait()?;
                if exit != Exit::SUCCESS {
                    failed = true;
                }
            }
        }
    }
    Ok(if failed { Exit::FAILURE } else { Exit::SUCCESS })
}

fn monitor() -> Result<Exit> {
    let mut watch = NetnsWatch::open()?;
    loop {
        let events = watch.next_events()?;
        let mut out = std::io::stdout().lock();
        for event in events {
            let (word, n) = match event {
                NetnsEvent::Added(n) => ("add", n),
                NetnsEvent::Deleted(n) => ("delete", n),
            };
            write!(out, "{word} ")?;
            out.write_all(n.as_encoded_bytes())?;
            writeln!(out)?;
        }
        out.flush()?;
    }
}

/// `[target-nsid N] [nsid N]`.
fn list_id_args(args: &[String]) -> Result<(Option<i32>, Option<i32>)> {
    let (mut target, mut only) = (None, None);
    let mut words = args.iter();
    while let Some(w) = words.next() {
        let value = words.next().map(|v| v.parse::<i32>());
        match (w.as_str(), value) {
            ("target-nsid", Some(Ok(v))) if v >= 0 => target = Some(v),
            ("nsid", Some(Ok(v))) if v >= 0 => only = Some(v),
            _ => usage!("expected [target-nsid N] [nsid N], got '{w}'"),
        }
    }
    Ok((target, only))
}

fn list_id(args: &[String]) -> Result<Exit> {
    let (target, only) = list_id_args(args)?;
    let mut sock = Socket::open()?;
    // As ip does: `nsid N` asks about one peer (the one we call N), else
    // the whole table is dumped.
    let entries = match only {
        Some(n) => vec![sock.nsid_query(n, target)],
        None => sock
            .nsid_list(target)
            .map(|v| v.into_iter().map(Ok).collect())
            .context("cannot list namespace ids")?,
    };
    // Names for the peers, by the ids we give them.
    let by_id: HashMap<i32, OsString> = named_nsids(Some(&mut sock))?
        .into_iter()
        .filter_map(|(n, id)| Some((id?, n)))
        .collect();
    let mut failed = false;
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                eprintln!("netns: {e}");
                failed = true;
                continue;
            }
        };
        let mut line = match entry.nsid {
            Some(id) => format!("nsid {id} "),
            None => "nsid unassigned ".to_string(),
        };
        let ours = match target {
            Some(_) => entry.current,
            None => entry.nsid,
        };
        if let (Some(_), Some(c)) = (target, entry.current) {
            line.push_str(&format!("current-nsid {c} "));
        }
        if let Some(n) = ours.and_then(|id| by_id.get(&id)) {
            line.push_str(&format!("(iproute2 netns name: {})", n.to_string_lossy()));
        }
        // (ip ends an unnamed id's line with the space before the name.)
        println!("{line}");
    }
    Ok(if failed { Exit::FAILURE } else { Exit::SUCCESS })
}

// ---- wiring ---------------------------------------------------------------

/// A namespace and an interface in it: `NS[:IF]` (`pid:PID[:IF]`).
#[derive(Debug)]
pub struct Endpoint {
    pub ns: NetnsRef,
    pub ifname: Option<String>,
}

impl Endpoint {
    /// Split `NS[:IF]`: the interface is after the last `:` (for `pid:PID`,
    /// after the one that follows the PID).
    pub fn parse(word: &str) -> crate::sys::Result<Endpoint> {
        let (ns, ifname) = match word.strip_prefix("pid:") {
            Some(rest) => match rest.split_once(':') {
                Some((pid, ifname)) => (format!("pid:{pid}"), Some(ifname)),
                None => (word.to_string(), None),
            },
            None => match word.rsplit_once(':') {
                Some((ns, ifname)) => (ns.to_string(), Some(ifname)),
                None => (word.to_string(), None),
            },
        };
        if let Some(ifname) = ifname {
            check_ifname(ifname)?;
        }
        Ok(Endpoint {
            ns: NetnsRef::parse(&ns)?,
            ifname: ifname.map(String::from),
        })
    }
}

/// A namespace opened for wiring: its file and a netlink socket inside it.
struct Wired {
    what: NetnsRef,
    file: NsFile,
    sock: Socket,
}

fn open_ns(word: &str) -> Result<Wired> {
    wired(NetnsRef::parse(word)?)
}

fn wired(what: NetnsRef) -> Result<Wired> {
    Ok(wire_all(vec![what])?.remove(0))
}

/// Open several namespaces for wiring. Every file is opened before any
/// socket, and the sockets of our own namespace first: in a user namespace
/// we may enter the namespaces it owns but not come back to one it does
/// not own (the one we started in), so we must not need to.
fn wire_all(whats: Vec<NetnsRef>) -> Result<Vec<Wired>> {
    let files = whats
        .iter()
        .map(|w| w.open())
        .collect::<crate::sys::Result<Vec<_>>>()?;
    let here = NsFile::of_process(None, NsKind::Net)?.inode();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].inode() != here);
    let mut socks: Vec<Option<Socket>> = (0..files.len()).map(|_| None).collect();
    for i in order {
        let sock = Socket::open_in(&files[i])
            .with_context(|| format!("cannot open a netlink socket in namespace {}", whats[i]))?;
        socks[i] = Some(sock);
    }
    Ok(whats
        .into_iter()
        .zip(files)
        .zip(socks)
        .map(|((what, file), sock)| Wired {
            what,
            file,
            sock: sock.expect("every socket was opened"),
        })
        .collect())
}

impl Wired {
    fn index(&mut self, ifname: &str) -> Result<i32> {
        let what = &self.what;
        Ok(self
            .sock
            .link_index(ifname)
            .map_err(|e| e.with_what(format!("interface '{ifname}' in namespace {what}")))?)
    }

    fn add_addr(&mut self, index: i32, ifname: &str, cidr: &Cidr) -> Result<()> {
        let what = &self.what;
        Ok(self.sock.add_addr(index, cidr).map_err(|e| {
            e.with_what(format!(
                "cannot add address {cidr} to {ifname} in namespace {what}"
            ))
        })?)
    }

    fn add_route(&mut self, dest: Option<&Cidr>, gateway: IpAddr, oif: Option<i32>) -> Result<()> {
        let what = &self.what;
        let to = match dest {
            Some(d) => format!("route to {}", d.network()),
            None => "default route".to_string(),
        };
        Ok(self.sock.add_route(dest, gateway, oif).map_err(|e| {
            e.with_what(format!("cannot add {to} via {gateway} in namespace {what}"))
        })?)
    }

    /// Refuse an address that an interface of this namespace already holds.
    fn check_free(&mut self, cidr: &Cidr) -> Result<()> {
        let addrs = self.sock.addrs()?;
        if let Some(a) = addrs.iter().find(|a| a.cidr.addr == cidr.addr) {
            let links = self.sock.links()?;
            let on = links
                .iter()
                .find(|l| l.index == a.index)
                .map(|l| l.name.clone())
                .unwrap_or_else(|| a.index.to_string());
            bail!(
                "address {} is already in use on {on} in namespace {}",
                cidr.addr,
                self.what
            );
        }
        Ok(())
    }

    /// No duplicate address detection on a link we made ourselves: a
    /// router sends neighbour solicitations only from a link-local address
    /// that passed DAD, so routed IPv6 would stay dead for a second or two.
    /// (Skipped silently where IPv6 is off.)
    fn skip_dad(&self, ifname: &str) {
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_dad");
        let _ = netlink::write_sysctl(&self.file, &path, "0");
    }

    fn up(&mut self, ifname: &str) -> Result<()> {
        let i = self.index(ifname)?;
        self.sock
            .set_up(i, true)
            .with_context(|| format!("cannot set {ifname} up in namespace {}", self.what))
    }
}

fn parse_cidr(text: &str) -> Result<Cidr> {
    Ok(Cidr::parse(text)?)
}

/// An interface name derived from a namespace label, within the kernel's 15 bytes.
fn default_ifname(prefix: &str, label: &str) -> String {
    let clean: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
        .collect();
    let mut name = format!("{prefix}{clean}");
    name.truncate(15);
    name
}

/// The two ends of `link`, and the addresses of `--addr CIDR_A,CIDR_B`.
type LinkArgs = (Endpoint, Endpoint, Option<(Cidr, Cidr)>);

fn link_args(a: &str, b: &str, addrs: Option<&str>, mtu: Option<u32>) -> Result<LinkArgs> {
    let (ea, eb) = (Endpoint::parse(a)?, Endpoint::parse(b)?);
    let cidrs = match addrs {
        None => None,
        Some(text) => match text.split_once(',') {
            Some((ca, cb)) => Some((parse_cidr(ca)?, parse_cidr(cb)?)),
            None => usage!("--addr takes two addresses: CIDR_A,CIDR_B"),
        },
    };
    if mtu.is_some_and(|m| !(68..=65535).contains(&m)) {
        usage!("invalid MTU '{}' (68 to 65535)", mtu.unwrap_or(0));
    }
    Ok((ea, eb, cidrs))
}

fn link(a: &str, b: &str, addrs: Option<&str>, mtu: Option<u32>) -> Result<Exit> {
    let (ea, eb, cidrs) = link_args(a, b, addrs, mtu)?;
    let if_a = ea
        .ifname
        .clone()
        .unwrap_or_else(|| default_ifname("v-", &eb.ns.label()));
    let if_b = eb
        .ifname
        .clone()
        .unwrap_or_else(|| default_ifname("v-", &ea.ns.label()));
    check_ifname(&if_a)?;
    check_ifname(&if_b)?;
    let mut both = wire_all(vec![ea.ns, eb.ns])?;
    let mut wb = both.pop().expect("two namespaces");
    let mut wa = both.pop().expect("two namespaces");
    if let Some((ca, cb)) = &cidrs {
        wa.check_free(ca)?;
        wb.check_free(cb)?;
    }
    // A name taken, often by an interrupted link: say what to remove rather
    // than the kernel's bare EEXIST.
    for (w, ifname) in [(&mut wa, &if_a), (&mut wb, &if_b)] {
        if w.sock.link_index(ifname).is_ok() {
            bail!(
                "cannot link {a} and {b}: interface {ifname} already exists in namespace {} \
                 (left by an interrupted link?): remove it with \
                 'nsenter --net={} ip link del {ifname}'",
                w.what,
                w.what.path().display()
            );
        }
    }
    let made = wa.sock.add_veth(&if_a, &if_b, Some(&wb.file), mtu);
    if made.is_err() {
        // The kernel may have made the pair though its answer was lost; the
        // names were free above, so a link by that name now is ours.
        if let Ok(i) = wa.sock.link_index(&if_a) {
            let _ = wa.sock.del_link(i);
        }
    }
    made.with_context(|| format!("cannot link {} and {}", wa.what, wb.what))?;
    let result = (|| -> Result<()> {
        // Up before the addresses: an IPv6 address added to a down interface
        // joins its solicited-node group late, and the first neighbour
        // solicitations go unanswered.
        for (w, ifname) in [(&mut wa, &if_a), (&mut wb, &if_b)] {
            w.skip_dad(ifname);
            w.up(ifname)?;
            w.up("lo")?;
        }
        if let Some((ca, cb)) = &cidrs {
            let ia = wa.index(&if_a)?;
            wa.add_addr(ia, &if_a, ca)?;
            let ib = wb.index(&if_b)?;
            wb.add_addr(ib, &if_b, cb)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Deleting one end of a veth deletes the pair, addresses and all.
        if let Ok(i) = wa.sock.link_index(&if_a) {
            let _ = wa.sock.del_link(i);
        }
        return Err(e);
    }
    Ok(Exit::SUCCESS)
}

fn addr(ns: &str, ifname: &str, cidrs: &[String]) -> Result<Exit> {
    let cidrs = cidrs
        .iter()
        .map(|c| parse_cidr(c))
        .collect::<Result<Vec<_>>>()?;
    check_ifname(ifname)?;
    let mut w = open_ns(ns)?;
    let index = w.index(ifname)?;
    for c in &cidrs {
        w.check_free(c)?;
    }
    let mut added = Vec::new();
    for c in &cidrs {
        if let Err(e) = w.add_addr(index, ifname, c) {
            for done in added.iter().rev() {
                let _ = w.sock.del_addr(index, done);
            }
            return Err(e);
        }
        added.push(*c);
    }
    Ok(Exit::SUCCESS)
}

fn updown(ns: &str, ifnames: &[String], up: bool) -> Result<Exit> {
    let lo = ["lo".to_string()];
    let ifnames = if ifnames.is_empty() { &lo[..] } else { ifnames };
    for i in ifnames {
        check_ifname(i)?;
    }
    let mut w = open_ns(ns)?;
    let indexes = ifnames
        .iter()
        .map(|i| w.index(i))
        .collect::<Result<Vec<_>>>()?;
    for (i, name) in indexes.into_iter().zip(ifnames) {
        w.sock.set_up(i, up).with_context(|| {
            format!(
                "cannot set {name} {} in namespace {}",
                if up { "up" } else { "down" },
                w.what
            )
        })?;
    }
    Ok(Exit::SUCCESS)
}

/// `NS DEST|default via GW [dev IF]`, checked: the namespace word, the
/// destination (None: default), the gateway and the device.
type RouteArgs<'a> = (&'a str, Option<Cidr>, IpAddr, Option<&'a str>);

fn route_args(args: &[String]) -> Result<RouteArgs<'_>> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ns, dest, gw, dev) = match words.as_slice() {
        [ns, dest, "via", gw] => (*ns, *dest, *gw, None),
        [ns, dest, "via", gw, "dev", dev] => (*ns, *dest, *gw, Some(*dev)),
        _ => usage!("expected: route NETNS DEST|default via GW [dev IF]"),
    };
    let gateway: IpAddr = gw
        .parse()
        .map_err(|_| anyhow!("invalid gateway '{gw}': not an IPv4 or IPv6 address"))?;
    let dest = match dest {
        "default" => None,
        d => Some(parse_cidr(d)?),
    };
    if let Some(d) = &dest {
        if d.addr.is_ipv4() != gateway.is_ipv4() {
            bail!("route to {d} via {gateway}: the two are of different families");
        }
    }
    if let Some(dev) = dev {
        check_ifname(dev)?;
    }
    Ok((ns, dest, gateway, dev))
}

fn route(args: &[String]) -> Result<Exit> {
    let (ns, dest, gateway, dev) = route_args(args)?;
    let mut w = open_ns(ns)?;
    let oif = dev.map(|d| w.index(d)).transpose()?;
    w.add_route(dest.as_ref(), gateway, oif)?;
    Ok(Exit::SUCCESS)
}

fn forward(ns: &str, on: bool) -> Result<Exit> {
    let file = NetnsRef::parse(ns)?.open()?;
    let value = if on { "1" } else { "0" };
    netlink::write_sysctl(&file, "/proc/sys/net/ipv4/ip_forward", value)
        .with_context(|| format!("in namespace {ns}"))?;
    netlink::write_sysctl(&file, "/proc/sys/net/ipv6/conf/all/forwarding", value)
        .with_context(|| format!("in namespace {ns}"))?;
    Ok(Exit::SUCCESS)
}

/// `NS:BRIDGE`, the subnet and the members of `bridge`.
type BridgeArgs = (Endpoint, String, Cidr, Vec<Endpoint>);

fn bridge_args(spec: &str, subnet: &str, members: &[String]) -> Result<BridgeArgs> {
    let host = Endpoint::parse(spec)?;
    let Some(br) = host.ifname.clone() else {
        usage!("expected NETNS:BRIDGE, got '{spec}'");
    };
    let subnet = parse_cidr(subnet)?;
    let members = members
        .iter()
        .map(|m| Endpoint::parse(m))
        .collect::<crate::sys::Result<Vec<_>>>()?;
    Ok((host, br, subnet, members))
}

fn make_bridge(spec: &str, subnet: &str, members: &[String]) -> Result<Exit> {
    let (host, br, subnet, members) = bridge_args(spec, subnet, members)?;
    let bridge_addr = subnet
        .host(1)
        .ok_or_else(|| anyhow!("subnet {subnet} has no room for a bridge address"))?;
    let member_addrs = (0..members.len())
        .map(|i| {
            subnet.host(2 + i as u128).ok_or_else(|| {
                anyhow!("subnet {subnet} is too small for {} members", members.len())
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ifnames = members
        .iter()
        .map(|m| m.ifname.clone().unwrap_or_else(|| "eth0".to_string()))
        .collect::<Vec<_>>();
    let mut all = wire_all(
        std::iter::once(host.ns)
            .chain(members.into_iter().map(|m| m.ns))
            .collect(),
    )?;
    let mut hub = all.remove(0);
    let mut wm = Vec::new();
    for (i, (mut w, ifname)) in all.into_iter().zip(ifnames).enumerate() {
        w.check_free(&member_addrs[i])?;
        wm.push((w, ifname));
    }
    hub.check_free(&bridge_addr)?;
    // The hub-side ends: BRIDGE-1, BRIDGE-2, ... within 15 bytes.
    let port = |i: usize| {
        let suffix = format!("-{}", i + 1);
        let mut base = br.clone();
        base.truncate(15 - suffix.len());
        format!("{base}{suffix}")
    };
    hub.sock.add_bridge(&br)?;
    let mut made: Vec<String> = Vec::new();
    let result = (|| -> Result<()> {
        let bi = hub.index(&br)?;
        hub.skip_dad(&br);
        hub.sock.set_up(bi, true)?;
        hub.up("lo")?;
        hub.add_addr(bi, &br, &bridge_addr)?;
        for (i, (w, ifname)) in wm.iter_mut().enumerate() {
            let p = port(i);
            hub.sock
                .add_veth(&p, ifname, Some(&w.file), None)
                .with_context(|| format!("cannot link {} to member {}", br, w.what))?;
            made.push(p.clone());
            let pi = hub.index(&p)?;
            hub.sock.set_master(pi, bi)?;
            hub.skip_dad(&p);
            hub.sock.set_up(pi, true)?;
            let mi = w.index(ifname)?;
            w.skip_dad(ifname);
            w.sock.set_up(mi, true)?;
            w.up("lo")?;
            w.add_addr(mi, ifname, &member_addrs[i])?;
            w.add_route(None, bridge_addr.addr, Some(mi))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Only what this call made: a port name that already existed is not ours.
        for p in made.iter().rev() {
            if let Ok(pi) = hub.sock.link_index(p) {
                let _ = hub.sock.del_link(pi);
            }
        }
        if let Ok(bi) = hub.sock.link_index(&br) {
            let _ = hub.sock.del_link(bi);
        }
        return Err(e);
    }
    Ok(Exit::SUCCESS)
}

fn show(ns: &str, json: bool) -> Result<Exit> {
    let mut w = open_ns(ns)?;
    let links = w.sock.links()?;
    let addrs = w.sock.addrs()?;
    let routes = w.sock.routes()?;
    let names: HashMap<i32, &str> = links.iter().map(|l| (l.index, l.name.as_str())).collect();
    let mut out = String::new();
    if json {
        out.push_str("{\"interfaces\":[");
        for (n, l) in links.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"index\":{},\"name\":{},\"kind\":{},\"up\":{},\"state\":\"{}\",\"mtu\":{},\"mac\":{},\"master\":{},\"addresses\":[",
                l.index,
                json_str(&l.name),
                l.kind.as_deref().map(json_str).unwrap_or_else(|| "null".into()),
                l.is_up(),
                l.state(),
                l.mtu,
                json_str(&l.mac_string()),
                l.master
                    .and_then(|m| names.get(&m))
                    .map(|m| json_str(m))
                    .unwrap_or_else(|| "null".into()),
            ));
            let mine: Vec<_> = addrs.iter().filter(|a| a.index == l.index).collect();
            for (k, a) in mine.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&format!(
                    "{{\"family\":\"{}\",\"address\":\"{}\",\"prefixlen\":{},\"scope\":\"{}\"}}",
                    if a.cidr.addr.is_ipv4() {
                        "inet"
                    } else {
                        "inet6"
                    },
                    a.cidr.addr,
                    a.cidr.prefix,
                    a.scope_name()
                ));
            }
            out.push_str("]}");
        }
        out.push_str("],\"routes\":[");
        for (n, r) in routes.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"dst\":\"{}\",\"gateway\":{},\"dev\":{},\"metric\":{}}}",
                route_dest(r),
                r.gateway
                    .map(|g| format!("\"{g}\""))
                    .unwrap_or_else(|| "null".into()),
                r.oif
                    .and_then(|i| names.get(&i))
                    .map(|d| json_str(d))
                    .unwrap_or_else(|| "null".into()),
                r.metric
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "null".into()),
            ));
        }
        out.push_str("]}\n");
    } else {
        for l in &links {
            let mut flags = Vec::new();
            if l.is_loopback() {
                flags.push("LOOPBACK");
            }
            if l.is_up() {
                flags.push("UP");
            }
            if l.has_carrier() {
                flags.push("LOWER_UP");
            }
            out.push_str(&format!(
                "{}: {}: <{}> mtu {} state {}",
                l.index,
                l.name,
                flags.join(","),
                l.mtu,
                l.state()
            ));
            if let Some(k) = &l.kind {
                out.push_str(&format!(" kind {k}"));
            }
            if let Some(m) = l.master.and_then(|m| names.get(&m)) {
                out.push_str(&format!(" master {m}"));
            }
            out.push_str(&format!("\n    link {}\n", l.mac_string()));
            for a in addrs.iter().filter(|a| a.index == l.index) {
                out.push_str(&format!(
                    "    {} {} scope {}\n",
                    if a.cidr.addr.is_ipv4() {
                        "inet"
                    } else {
                        "inet6"
                    },
                    a.cidr,
                    a.scope_name()
                ));
            }
        }
        out.push_str("routes:\n");
        for r in &routes {
            out.push_str(&format!("    {}", route_dest(r)));
            if let Some(g) = r.gateway {
                out.push_str(&format!(" via {g}"));
            }
            if let Some(d) = r.oif.and_then(|i| names.get(&i)) {
                out.push_str(&format!(" dev {d}"));
            }
            if let Some(m) = r.metric {
                out.push_str(&format!(" metric {m}"));
            }
            out.push('\n');
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Exit::SUCCESS)
}

fn route_dest(r: &netlink::Route) -> String {
    match &r.dest {
        Some(d) if d.prefix > 0 => d.to_string(),
        _ => "default".to_string(),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_the_interface_off_the_namespace() {
        let e = Endpoint::parse("ns1:eth0").unwrap();
        assert_eq!(e.ns, NetnsRef::parse("ns1").unwrap());
        assert_eq!(e.ifname.as_deref(), Some("eth0"));
        let e = Endpoint::parse("pid:42:veth1").unwrap();
        assert_eq!(e.ns, NetnsRef::Pid(42));
        assert_eq!(e.ifname.as_deref(), Some("veth1"));
        let e = Endpoint::parse("pid:42").unwrap();
        assert_eq!((e.ns, e.ifname), (NetnsRef::Pid(42), None));
        let e = Endpoint::parse("-:me").unwrap();
        assert_eq!((e.ns, e.ifname.as_deref()), (NetnsRef::Own, Some("me")));
        let e = Endpoint::parse("/run/x/ns:v0").unwrap();
        assert_eq!(e.ns, NetnsRef::Path("/run/x/ns".into()));
        for bad in [
            "ns1:",
            "ns1:a/b",
            "ns1:0123456789abcdef",
            "pid:0:x",
            ":x",
            "..:x",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn default_interface_names_fit_the_kernel_limit() {
        assert_eq!(default_ifname("v-", "ns1"), "v-ns1");
        assert_eq!(default_ifname("v-", "a very/long name!"), "v-averylongname");
        assert!(check_ifname(&default_ifname("v-", &"x".repeat(255))).is_ok());
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
