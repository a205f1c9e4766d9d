//! setns-run's NS arguments, nsenter's PID[:INODE] and :NSID, /proc/PID/environ,
//! the cgroup v2 line and the cgroup2 mount in mountinfo: never a panic; what parses is well-formed.
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use nstools::sys::ns::{
    parse_cgroup_v2, parse_environ, parse_ns_id, parse_status_ids, parse_target, NsSpec,
};
use nstools::sys::process::cgroup2_mount_in;

fuzz_target!(|data: &[u8]| {
    if let Ok(NsSpec::Process(pid, inode)) = NsSpec::parse(OsStr::from_bytes(data)) {
        assert!(pid.as_raw() > 0);
        assert_ne!(inode, Some(0));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((pid, _)) = parse_target(text) {
            assert!(pid.as_raw() > 0);
        }
        if let Some(id) = parse_ns_id(text) {
            assert!(id > 0);
            assert_eq!(parse_ns_id(&format!(":{id}")), Some(id));
        }
        let _ = parse_status_ids(text);
        if let Some(point) = cgroup2_mount_in(text) {
            assert!(!point.as_os_str().is_empty());
        }
        if let Some(path) = parse_cgroup_v2(text) {
            assert!(path.is_absolute());
            assert!(!path.components().any(|c| c.as_os_str() == ".."));
        }
    }
    for (name, _) in parse_environ(data) {
        assert!(!name.is_empty());
        assert!(!name.as_bytes().contains(&b'='));
        assert!(!name.as_bytes().contains(&0));
    }
});
