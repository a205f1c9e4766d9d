//! Namespace names and designators (`NAME`, `/path`, `pid:PID`, `-`, with an
//! optional `:IF`): never a panic, and a name that is accepted is one path
//! component under /run/netns.
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use nstools::applets::netns::Endpoint;
use nstools::sys::persist::{NetnsName, NetnsRef};

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = NetnsName::new(OsStr::from_bytes(data)) {
        let path = name.path();
        let rest = path.strip_prefix("/run/netns").unwrap();
        let parts: Vec<_> = rest.components().collect();
        assert_eq!(parts.len(), 1);
        assert!(matches!(parts[0], Component::Normal(_)));
        assert_eq!(path.parent(), Some(Path::new("/run/netns")));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(NetnsRef::Name(n)) = NetnsRef::parse(text) {
        assert!(!n.as_os_str().as_bytes().contains(&b'/'));
    }
    if let Ok(e) = Endpoint::parse(text) {
        if let Some(ifname) = e.ifname {
            assert!(!ifname.is_empty() && ifname.len() < 16);
        }
        let _ = e.ns.path();
    }
});
