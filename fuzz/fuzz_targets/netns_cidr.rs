//! CIDRs (`netns addr`, `--addr`, `--subnet`, `route`): never a panic; what
//! parses prints back to a form that parses to the same value, and the
//! hosts of a network stay inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nstools::sys::netlink::Cidr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Cidr::parse(text) {
        assert!(c.prefix <= if c.addr.is_ipv4() { 32 } else { 128 });
        assert_eq!(Cidr::parse(&c.to_string()).unwrap(), c);
        let net = c.network();
        assert_eq!(net.network(), net);
        for n in [1u128, 2, 255, u128::MAX] {
            if let Some(h) = c.host(n) {
                assert_eq!(h.network(), net);
                assert_ne!(h.addr, net.addr);
            }
        }
    }
});
