//! rtnetlink requests, synchronous, one socket per network namespace: links
//! (veth, bridge), addresses, routes and namespace ids.
//!
//! A netlink socket belongs to the network namespace it was created in, so
//! `Socket::open_in` enters the target namespace just long enough to make
//! one, then returns. Messages are built and read here, by hand, with every
//! length checked: the formats are those of linux/netlink.h, rtnetlink.h,
//! if_link.h, if_addr.h and net_namespace.h.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::str::FromStr;

use nix::errno::Errno;

use super::ns::{NsFile, NsKind};
use super::{Error, OsContext, Result};

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;
const NLA_F_NESTED: u16 = 0x8000;

// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;

// linux/if_link.h
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_LOWER_UP: u32 = 0x1_0000;

// linux/if_addr.h
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

// linux/net_namespace.h
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const NETNSA_TARGET_NSID: u16 = 4;
const NETNSA_CURRENT_NSID: u16 = 5;

/// How many namespace-id requests are in flight at once.
const NSID_BATCH: usize = 64;

/// The largest message we read at once (dumps come in pieces of at most this).
const RECV_BUF: usize = 64 * 1024;

/// An address with a prefix length: `10.0.0.1/24`, `fd00::1/64`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parse `ADDR/PREFIX`; a bare address is a host (/32 or /128).
    pub fn parse(text: &str) -> Result<Cidr> {
        let bad = |why: &str| Error::invalid(format!("invalid address '{text}'"), why);
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad("bad prefix length"))?
            }
            Some(_) => return Err(bad("bad prefix length")),
        };
        if prefix > max {
            return Err(bad(&format!("prefix length above {max}")));
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn family(&self) -> u8 {
        if self.addr.is_ipv4() {
            libc::AF_INET as u8
        } else {
            libc::AF_INET6 as u8
        }
    }

    fn bits(&self) -> u32 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// The network: the address with the host part cleared.
    pub fn network(&self) -> Cidr {
        let host_bits = self.bits() - self.prefix as u32;
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        Cidr {
            addr: from_u128(self.addr.is_ipv4(), to_u128(self.addr) & mask),
            prefix: self.prefix,
        }
    }

    /// The `n`th address of the network (1 is the first host), with the
    /// same prefix; `None` past the end of the network (or on its IPv4
    /// broadcast address).
    pub fn host(&self, n: u128) -> Option<Cidr> {
        let host_bits = self.bits() - self.prefix as u32;
        let size = if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        };
        let last = if self.addr.is_ipv4() && host_bits >= 2 {
            size - 1
        } else {
            size
        };
        if n == 0 || n >= last {
            return None;
        }
        let base = to_u128(self.network().addr);
        Some(Cidr {
            addr: from_u128(self.addr.is_ipv4(), base + n),
            prefix: self.prefix,
        })
    }

    fn addr_bytes(&self) -> Vec<u8> {
        ip_bytes(self.addr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v4: bool, n: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

fn ip_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(bytes);
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// Check an interface name as the kernel does (dev_valid_name): 1 to 15
/// bytes, not `.` or `..`, no `/`, `:` or white space.
pub fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("invalid interface name '{name}'"),
            "1 to 15 bytes, no '/', ':' or spaces",
        ))
    }
}

/// A netlink message under construction.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        Msg { buf }
    }

    /// The family header that follows nlmsghdr, padded to 4 bytes.
    fn raw(mut self, bytes: &[u8]) -> Msg {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    fn attr_str(&mut self, ty: u16, s: &str) -> &mut Msg {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.attr(ty, &bytes)
    }

    fn nest(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.attr(ty | NLA_F_NESTED, &[]);
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// Append raw bytes inside a nest (a family header within an attribute).
    fn raw_in(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.pad();
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = family;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

/// The attributes in `data` as (type without flags, payload); stops at the
/// first malformed one.
pub fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let payload = &rest[4..len];
        let next = (len + 3) & !3;
        rest = if next >= rest.len() {
            &[]
        } else {
            &rest[next..]
        };
        Some((ty, payload))
    })
}

fn attr_u32(p: &[u8]) -> Option<u32> {
    p.get(..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn attr_string(p: &[u8]) -> String {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// One message received: its type and its body (after nlmsghdr).
struct Reply {
    seq: u32,
    ty: u16,
    flags: u16,
    body: Vec<u8>,
}

impl Socket {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Socket> {
        // SAFETY: socket(2) with constant arguments returns a new fd or -1.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        let raw = Errno::result(raw).what(|| "cannot open a netlink socket".into())?;
        // SAFETY: the kernel returned a fresh fd that we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Ask for the kernel's own words on errors, without our request echoed.
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt reads one int from the pointer we pass.
            unsafe {
                libc::setsockopt(
                    raw,
                    SOL_NETLINK,
                    opt,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        Ok(Socket {
            fd,
            seq: 0,
            buf: vec![0u8; RECV_BUF],
        })
    }

    /// A socket in the network namespace `ns`: enter it, open, come back.
    pub fn open_in(ns: &NsFile) -> Result<Socket> {
        in_netns(ns, Socket::open)
    }

    fn send(&mut self, msg: Msg) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // SAFETY: an all-zero sockaddr_nl addresses the kernel.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: sendto reads `bytes` and `addr`, both alive for the call.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        Errno::result(rc).what(|| "cannot send a netlink request".into())?;
        Ok(seq)
    }

    /// Read one datagram and split it into messages.
    fn recv(&mut self) -> Result<Vec<Reply>> {
        let n = loop {
            // SAFETY: recv writes at most buf.len() bytes into our buffer.
            let rc = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr() as *mut libc::c_void,
                    self.buf.len(),
                    0,
                )
            };
            match Errno::result(rc) {
                Ok(n) => break n as usize,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("cannot read a netlink reply", e)),
            }
        };
        let mut out = Vec::new();
        let mut rest = &self.buf[..n];
        while rest.len() >= NLMSG_HDRLEN {
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len < NLMSG_HDRLEN || len > rest.len() {
                break;
            }
            let ty = u16::from_ne_bytes([rest[4], rest[5]]);
            let flags = u16::from_ne_bytes([rest[6], rest[7]]);
            let seq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
            out.push(Reply {
                seq,
                ty,
                flags,
                body: rest[NLMSG_HDRLEN..len].to_vec(),
            });
            let next = (len + 3) & !3;
            rest = if next >= rest.len() {
                &[]
            } else {
                &rest[next..]
            };
        }
        Ok(out)
    }

    /// Send a request and collect its replies until the ack (or the end of
    /// a dump). A negative ack becomes an error carrying the kernel's text.
    fn transact(&mut self, msg: Msg) -> Result<Vec<Reply>> {
        let seq = self.send(msg)?;
        let mut replies = Vec::new();
        loop {
            for reply in self.recv()? {
                if reply.seq != seq {
                    continue;
                }
                let (ty, flags, body) = (reply.ty, reply.flags, reply.body);
                match ty {
                    NLMSG_DONE => {
                        // A dump that failed says so in DONE's payload.
                        let code = body
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if code < 0 {
                            let mut err = Error::os("netlink dump failed", Errno::from_raw(-code));
                            if flags & NLM_F_ACK_TLVS != 0 {
                                if let Some((_, text)) =
                                    attrs(&body[4..]).find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
                                {
                                    let text = attr_string(text);
                                    if !text.is_empty() {
                                        err = err.hinted(text);
                                    }
                                }
                            }
                            return Err(err);
                        }
                        return Ok(replies);
                    }
                    NLMSG_ERROR => {
                        let code = body
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EIO);
                        if code == 0 {
                            return Ok(replies);
                        }
                        let mut err = Error::os("netlink request failed", Errno::from_raw(-code));
                        if flags & NLM_F_ACK_TLVS != 0 && body.len() >= 4 + NLMSG_HDRLEN {
                            // NETLINK_CAP_ACK: only the header of our request is echoed.
                            let tlvs = &body[4 + NLMSG_HDRLEN..];
                            if let Some((_, text)) =
                                attrs(tlvs).find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
                            {
                                let text = attr_string(text);
                                if !text.is_empty() {
                                    err = err.hinted(text);
                                }
                            }
                        }
                        return Err(err);
                    }
                    _ => {
                        replies.push(Reply {
                            seq,
                            ty,
                            flags,
                            body,
                        });
                        if flags & NLM_F_MULTI == 0 {
                            // A single answer to a GET comes without DONE.
                            return Ok(replies);
                        }
                    }
                }
            }
        }
    }

    fn request(&mut self, msg: Msg) -> Result<()> {
        self.transact(msg).map(drop)
    }

    // ---- links ------------------------------------------------------------

    /// The index of the interface `name`, or an error that names it.
    pub fn link_index(&mut self, name: &str) -> Result<i32> {
        let mut m = Msg::new(RTM_GETLINK, 0).raw(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        let replies = self.transact(m).map_err(|e| match e.errno() {
            Some(Errno::ENODEV) => {
                Error::invalid(format!("interface '{name}'"), "no such interface")
            }
            _ => e.with_what(format!("cannot find interface '{name}'")),
        })?;
        replies
            .iter()
            .find(|r| r.ty == RTM_NEWLINK && r.body.len() >= 16)
            .map(|r| i32::from_ne_bytes([r.body[4], r.body[5], r.body[6], r.body[7]]))
            .ok_or_else(|| Error::invalid(format!("interface '{name}'"), "no such interface"))
    }

    /// Create a veth pair: `name` here, `peer` in the namespace `peer_ns`
    /// (here when `None`).
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_ns: Option<&NsFile>,
        mtu: Option<u32>,
    ) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .raw(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        let info = m.nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        let data = m.nest(IFLA_INFO_DATA);
        let p = m.nest(VETH_INFO_PEER);
        m.raw_in(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, peer);
        if let Some(mtu) = mtu {
            m.attr_u32(IFLA_MTU, mtu);
        }
        if let Some(ns) = peer_ns {
            m.attr_u32(IFLA_NET_NS_FD, ns.as_fd_raw() as u32);
        }
        m.end(p);
        m.end(data);
        m.end(info);
        self.request(m)
            .map_err(|e| e.with_what(format!("cannot create veth pair {name} <-> {peer}")))
    }

    /// Create a bridge.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .raw(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        let info = m.nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "bridge");
        m.end(info);
        self.request(m)
            .map_err(|e| e.with_what(format!("cannot create bridge {name}")))
    }

    /// Delete an interface (a veth takes its peer with it).
    pub fn del_link(&mut self, index: i32) -> Result<()> {
        let m = Msg::new(RTM_DELLINK, NLM_F_ACK).raw(&ifinfomsg(0, index, 0, 0));
        self.request(m)
            .map_err(|e| e.with_what(format!("cannot delete interface {index}")))
    }

    /// Set an interface up or down.
    pub fn set_up(&mut self, index: i32, up: bool) -> Result<()> {
        let flags = if up { IFF_UP } else { 0 };
        let m = Msg::new(RTM_NEWLINK, NLM_F_ACK).raw(&ifinfomsg(0, index, flags, IFF_UP));
        self.request(m)
    }

    /// Enslave an interface to a bridge.
    pub fn set_master(&mut self, index: i32, master: i32) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK).raw(&ifinfomsg(0, index, 0, 0));
        m.attr_u32(IFLA_MASTER, master as u32);
        self.request(m)
    }

    /// Every interface of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let m = Msg::new(RTM_GETLINK, NLM_F_DUMP).raw(&ifinfomsg(0, 0, 0, 0));
        let replies = self
            .transact(m)
            .map_err(|e| e.with_what("cannot list interfaces"))?;
        Ok(replies
            .iter()
            .filter(|r| r.ty == RTM_NEWLINK)
            .filter_map(|r| Link::parse(&r.body))
            .collect())
    }

    // ---- addresses --------------------------------------------------------

    /// Add an address to an interface. IPv6 addresses skip duplicate address
    /// detection (IFA_F_NODAD): they are usable at once, in namespaces whose
    /// links we made ourselves.
    pub fn add_addr(&mut self, index: i32, cidr: &Cidr) -> Result<()> {
        let mut hdr = [0u8; 8];
        hdr[0] = cidr.family();
        hdr[1] = cidr.prefix;
        hdr[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).raw(&hdr);
        let bytes = cidr.addr_bytes();
        m.attr(IFA_LOCAL, &bytes);
        m.attr(IFA_ADDRESS, &bytes);
        if cidr.addr.is_ipv6() {
            m.attr_u32(IFA_FLAGS, IFA_F_NODAD);
        }
        self.request(m)
            .map_err(|e| e.with_what(format!("cannot add address {cidr}")))
    }

    /// Remove an address from an interface.
    pub fn del_addr(&mut self, index: i32, cidr: &Cidr) -> Result<()> {
        let mut hdr = [0u8; 8];
        hdr[0] = cidr.family();
        hdr[1] = cidr.prefix;
        hdr[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut m = Msg::new(RTM_DELADDR, NLM_F_ACK).raw(&hdr);
        m.attr(IFA_LOCAL, &cidr.addr_bytes());
        self.request(m)
            .map_err(|e| e.with_what(format!("cannot remove address {cidr}")))
    }

    /// Every address of the namespace.
    pub fn addrs(&mut self) -> Result<Vec<Addr>> {
        let m = Msg::new(RTM_GETADDR, NLM_F_DUMP).raw(&[0u8; 8]);
        let replies = self
            .transact(m)
            .map_err(|e| e.with_what("cannot list addresses"))?;
        Ok(replies
            .iter()
            .filter(|r| r.ty == RTM_NEWADDR)
            .filter_map(|r| Addr::parse(&r.body))
            .collect())
    }

    // ---- routes -----------------------------------------------------------

    /// Add a route to `dest` (`None`: default) via `gateway`, optionally
    /// through interface `oif`, in the main table.
    pub fn add_route(
        &mut self,
        dest: Option<&Cidr>,
        gateway: IpAddr,
        oif: Option<i32>,
    ) -> Result<()> {
        let family = if gateway.is_ipv4() {
            libc::AF_INET as u8
        } else {
            libc::AF_INET6 as u8
        };
        let mut hdr = [0u8; 12];
        hdr[0] = family;
        hdr[1] = dest.map(|d| d.prefix).unwrap_or(0);
        hdr[4] = RT_TABLE_MAIN;
        hdr[5] = RTPROT_BOOT;
        hdr[6] = RT_SCOPE_UNIVERSE;
        hdr[7] = RTN_UNICAST;
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).raw(&hdr);
        if let Some(d) = dest {
            m.attr(RTA_DST, &d.network().addr_bytes());
        }
        m.attr(RTA_GATEWAY, &ip_bytes(gateway));
        if let Some(oif) = oif {
            m.attr_u32(RTA_OIF, oif as u32);
        }
        let what = match dest {
            Some(d) => format!("cannot add route to {} via {gateway}", d.network()),
            None => format!("cannot add default route via {gateway}"),
        };
        self.request(m).map_err(|e| e.with_what(what))
    }

    /// The routes of the main table, both families.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let m = Msg::new(RTM_GETROUTE, NLM_F_DUMP).raw(&[0u8; 12]);
        let replies = self
            .transact(m)
            .map_err(|e| e.with_what("cannot list routes"))?;
        Ok(replies
            .iter()
            .filter_map(|r| Route::parse(&r.body))
            .filter(|r| r.table == RT_TABLE_MAIN as u32)
            .collect())
    }

    // ---- namespace ids ----------------------------------------------------

    /// The id this socket's namespace gives the namespace `ns` (None: none
    /// assigned).
    pub fn nsid_of(&mut self, ns_fd: i32) -> Result<Option<i32>> {
        let mut m = Msg::new(RTM_GETNSID, 0).raw(&[0u8; 1]);
        m.attr_u32(NETNSA_FD, ns_fd as u32);
        let replies = self.transact(m)?;
        Ok(replies
            .iter()
            .filter(|r| r.ty == RTM_NEWNSID)
            .find_map(|r| {
                attrs(r.body.get(4..)?)
                    .find(|(t, _)| *t == NETNSA_NSID)
                    .and_then(|(_, p)| attr_u32(p))
            })
            .map(|v| v as i32)
            .filter(|&v| v >= 0))
    }

    /// Ask the ids of many namespaces at once: the requests are all sent
    /// before the answers are read, one round trip instead of one per file.
    pub fn nsids_of(&mut self, fds: &[i32]) -> Result<Vec<Option<i32>>> {
        if fds.len() > NSID_BATCH {
            let mut out = Vec::with_capacity(fds.len());
            for chunk in fds.chunks(NSID_BATCH) {
                out.extend(self.nsids_of(chunk)?);
            }
            return Ok(out);
        }
        let mut out = vec![None; fds.len()];
        let mut first = None;
        for &fd in fds {
            let mut m = Msg::new(RTM_GETNSID, 0).raw(&[0u8; 1]);
            m.attr_u32(NETNSA_FD, fd as u32);
            let seq = self.send(m)?;
            first.get_or_insert(seq);
        }
        let Some(first) = first else { return Ok(out) };
        let mut left = fds.len();
        while left > 0 {
            // (the caller sends at most NSID_BATCH at once: the answers must fit
            // in the socket's receive buffer)
            for Reply { seq, ty, body, .. } in self.recv()? {
                let i = seq.wrapping_sub(first) as usize;
                if i >= out.len() {
                    continue;
                }
                if ty == RTM_NEWNSID {
                    out[i] = body
                        .get(4..)
                        .and_then(|a| attrs(a).find(|(t, _)| *t == NETNSA_NSID))
                        .and_then(|(_, p)| attr_u32(p))
                        .map(|v| v as i32)
                        .filter(|&v| v >= 0);
                    left -= 1;
                } else if ty == NLMSG_ERROR {
                    left -= 1;
                }
            }
        }
        Ok(out)
    }

    /// Assign the id `nsid` (-1: let the kernel choose) to the namespace `ns_fd`.
    pub fn set_nsid(&mut self, ns_fd: i32, nsid: i32) -> Result<()> {
        let mut m = Msg::new(RTM_NEWNSID, NLM_F_ACK).raw(&[0u8; 1]);
        m.attr_u32(NETNSA_FD, ns_fd as u32);
        m.attr_u32(NETNSA_NSID, nsid as u32);
        self.request(m)
    }

    /// Every id a namespace has assigned: ours, or with `target_nsid` the
    /// one we call that: (its id for a peer, our id for that peer).
    pub fn nsid_list(&mut self, target_nsid: Option<i32>) -> Result<Vec<NsidEntry>> {
        // The kernel reads a dump request's attributes only in strict mode.
        self.set_opt(NETLINK_GET_STRICT_CHK);
        let mut m = Msg::new(RTM_GETNSID, NLM_F_DUMP).raw(&[0u8; 1]);
        if let Some(t) = target_nsid {
            m.attr_u32(NETNSA_TARGET_NSID, t as u32);
        }
        let replies = self.transact(m)?;
        Ok(replies
            .iter()
            .filter(|r| r.ty == RTM_NEWNSID)
            .filter_map(|r| NsidEntry::parse(&r.body))
            .collect())
    }

    /// The id of the peer we call `nsid`, as we number it or (with
    /// `target_nsid`) as that namespace does.
    pub fn nsid_query(&mut self, nsid: i32, target_nsid: Option<i32>) -> Result<NsidEntry> {
        let mut m = Msg::new(RTM_GETNSID, 0).raw(&[0u8; 1]);
        m.attr_u32(NETNSA_NSID, nsid as u32);
        if let Some(t) = target_nsid {
            m.attr_u32(NETNSA_TARGET_NSID, t as u32);
        }
        let replies = self
            .transact(m)
            .map_err(|e| e.with_what(format!("cannot get nsid {nsid}")))?;
        replies
            .iter()
            .filter(|r| r.ty == RTM_NEWNSID)
            .find_map(|r| NsidEntry::parse(&r.body))
            .ok_or_else(|| Error::invalid(format!("nsid {nsid}"), "no answer"))
    }

    fn set_opt(&self, opt: libc::c_int) {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one int from the pointer we pass.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                SOL_NETLINK,
                opt,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
}

/// One namespace id: `nsid` (None: unassigned) and, when asked through a
/// target namespace, `current`, the id we give the same peer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NsidEntry {
    pub nsid: Option<i32>,
    pub current: Option<i32>,
}

impl NsidEntry {
    fn parse(body: &[u8]) -> Option<NsidEntry> {
        let a = body.get(4..)?;
        let get = |ty| {
            attrs(a)
                .find(|(t, _)| *t == ty)
                .and_then(|(_, p)| attr_u32(p))
                .map(|v| v as i32)
        };
        Some(NsidEntry {
            nsid: get(NETNSA_NSID).filter(|&v| v >= 0),
            current: get(NETNSA_CURRENT_NSID).filter(|&v| v >= 0),
        })
    }
}

trait RawNs {
    fn as_fd_raw(&self) -> i32;
}

impl RawNs for NsFile {
    fn as_fd_raw(&self) -> i32 {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}

/// Run `f` inside the network namespace `ns`, then come back to ours.
pub fn in_netns<T>(ns: &NsFile, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let home = NsFile::of_process(None, NsKind::Net)?;
    if home.inode() == ns.inode() {
        return f();
    }
    ns.enter()
        .map_err(|e| e.with_what(format!("cannot enter {}", ns.path().display())))?;
    let result = f();
    // In a user namespace we may not be allowed back into a namespace it
    // does not own; staying is harmless: what was made in `ns` stays bound
    // to `ns`, and every later step names its own namespace by file.
    let _ = home.enter();
    result
}

/// One interface as a dump reports it.
#[derive(Clone, Debug)]
pub struct Link {
    pub index: i32,
    pub name: String,
    pub flags: u32,
    pub mtu: u32,
    pub mac: Option<Vec<u8>>,
    pub operstate: u8,
    pub master: Option<i32>,
    pub kind: Option<String>,
}

impl Link {
    fn parse(body: &[u8]) -> Option<Link> {
        let hdr = body.get(..16)?;
        let mut link = Link {
            index: i32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]),
            flags: u32::from_ne_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]),
            name: String::new(),
            mtu: 0,
            mac: None,
            operstate: 0,
            master: None,
            kind: None,
        };
        for (ty, p) in attrs(&body[16..]) {
            match ty {
                IFLA_IFNAME => link.name = attr_string(p),
                IFLA_MTU => link.mtu = attr_u32(p).unwrap_or(0),
                IFLA_ADDRESS => link.mac = Some(p.to_vec()),
                IFLA_OPERSTATE => link.operstate = p.first().copied().unwrap_or(0),
                IFLA_MASTER => link.master = attr_u32(p).map(|v| v as i32),
                IFLA_LINKINFO => {
                    link.kind = attrs(p)
                        .find(|(t, _)| *t == IFLA_INFO_KIND)
                        .map(|(_, k)| attr_string(k))
                }
                _ => {}
            }
        }
        Some(link)
    }

    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    pub fn is_loopback(&self) -> bool {
        self.flags & IFF_LOOPBACK != 0
    }

    pub fn has_carrier(&self) -> bool {
        self.flags & IFF_LOWER_UP != 0
    }

    /// RFC 2863 operational state, in the words `ip link` uses.
    pub fn state(&self) -> &'static str {
        match self.operstate {
            1 => "NOTPRESENT",
            2 => "DOWN",
            3 => "LOWERLAYERDOWN",
            4 => "TESTING",
            5 => "DORMANT",
            6 => "UP",
            _ => "UNKNOWN",
        }
    }

    pub fn mac_string(&self) -> String {
        match &self.mac {
            Some(m) => m
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            None => String::new(),
        }
    }
}

/// One address as a dump reports it.
#[derive(Clone, Debug)]
pub struct Addr {
    pub index: i32,
    pub cidr: Cidr,
    pub scope: u8,
}

impl Addr {
    fn parse(body: &[u8]) -> Option<Addr> {
        let hdr = body.get(..8)?;
        let prefix = hdr[1];
        let scope = hdr[3];
        let index = u32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as i32;
        let mut local = None;
        let mut address = None;
        for (ty, p) in attrs(&body[8..]) {
            match ty {
                IFA_LOCAL => local = ip_from_bytes(p),
                IFA_ADDRESS => address = ip_from_bytes(p),
                _ => {}
            }
        }
        let addr = local.or(address)?;
        Some(Addr {
            index,
            cidr: Cidr { addr, prefix },
            scope,
        })
    }

    pub fn scope_name(&self) -> &'static str {
        match self.scope {
            0 => "global",
            200 => "site",
            253 => "link",
            254 => "host",
            _ => "other",
        }
    }
}

/// One route as a dump reports it.
#[derive(Clone, Debug)]
pub struct Route {
    pub dest: Option<Cidr>,
    pub gateway: Option<IpAddr>,
    pub oif: Option<i32>,
    pub prefsrc: Option<IpAddr>,
    pub metric: Option<u32>,
    pub table: u32,
    pub scope: u8,
    pub protocol: u8,
    pub family: u8,
}

impl Route {
    fn parse(body: &[u8]) -> Option<Route> {
        let hdr = body.get(..12)?;
        let mut r = Route {
            family: hdr[0],
            dest: None,
            gateway: None,
            oif: None,
            prefsrc: None,
            metric: None,
            table: hdr[4] as u32,
            protocol: hdr[5],
            scope: hdr[6],
        };
        if hdr[7] != RTN_UNICAST {
            return None;
        }
        let dst_len = hdr[1];
        for (ty, p) in attrs(&body[12..]) {
            match ty {
                RTA_DST => {
                    r.dest = ip_from_bytes(p).map(|addr| Cidr {
                        addr,
                        prefix: dst_len,
                    })
                }
                RTA_GATEWAY => r.gateway = ip_from_bytes(p),
                RTA_OIF => r.oif = attr_u32(p).map(|v| v as i32),
                RTA_PREFSRC => r.prefsrc = ip_from_bytes(p),
                RTA_PRIORITY => r.metric = attr_u32(p),
                RTA_TABLE => r.table = attr_u32(p).unwrap_or(r.table),
                _ => {}
            }
        }
        Some(r)
    }
}

/// Write a sysctl of the network namespace `ns` (paths under /proc/sys/net
/// name the namespace of whoever opens them).
pub fn write_sysctl(ns: &NsFile, path: &str, value: &str) -> Result<()> {
    in_netns(ns, || {
        std::fs::write(path, value).what(|| format!("cannot write {path}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_reject() {
        let c = Cidr::parse("10.10.10.2/24").unwrap();
        assert_eq!(c.to_string(), "10.10.10.2/24");
        assert_eq!(c.network().to_string(), "10.10.10.0/24");
        assert_eq!(Cidr::parse("fd00::1/64").unwrap().prefix, 64);
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().prefix, 32);
        for bad in [
            "",
            "10.0.0.1/33",
            "10.0.0/24",
            "x/1",
            "10.0.0.1/",
            "10.0.0.1/+1",
            "::1/129",
            "1.2.3.4/024x",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn hosts_count_from_the_network() {
        let c = Cidr::parse("10.0.0.77/24").unwrap();
        assert_eq!(c.host(1).unwrap().to_string(), "10.0.0.1/24");
        assert_eq!(c.host(254).unwrap().to_string(), "10.0.0.254/24");
        assert!(c.host(255).is_none(), "the broadcast address is no host");
        assert!(c.host(0).is_none());
        let v6 = Cidr::parse("fd00:1::/64").unwrap();
        assert_eq!(v6.host(2).unwrap().to_string(), "fd00:1::2/64");
        assert!(Cidr::parse("10.0.0.1/32").unwrap().host(1).is_none());
    }

    #[test]
    fn interface_names_follow_the_kernel_rule() {
        assert!(check_ifname("veth0").is_ok());
        assert!(check_ifname("a234567890abcde").is_ok());
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "a234567890abcdef"] {
            assert!(check_ifname(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn attributes_round_trip_and_bad_lengths_stop_the_walk() {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.attr_str(IFLA_IFNAME, "eth0");
        m.attr_u32(IFLA_MTU, 1500);
        let buf = m.finish(1);
        let got: Vec<_> = attrs(&buf[NLMSG_HDRLEN..]).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(attr_string(got[0].1), "eth0");
        assert_eq!(attr_u32(got[1].1), Some(1500));
        assert_eq!(attrs(&[200, 0, 1, 0, 0]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
    }

    #[test]
    fn own_namespace_has_a_loopback() {
        let mut s = Socket::open().unwrap();
        let links = s.links().unwrap();
        assert!(links.iter().any(|l| l.is_loopback()));
        assert!(s.link_index("lo").unwrap() > 0);
        assert!(s.link_index("no-such-if0").is_err());
    }
}
