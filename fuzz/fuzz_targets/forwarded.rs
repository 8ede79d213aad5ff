//! Fuzzes the reading of `X-Forwarded-For`: no header may panic it, the client it names is the
//! peer or an address the header spells, and an untrusted peer is always the client itself.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use rampart_core::forwarded::{client_ip, parse_hop};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let proxy = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let headers: Vec<&str> = text.split('\n').collect();
    let client = client_ip(proxy, headers.iter().map(|header| Some(*header)), &[proxy]);
    let spelled = headers.iter().flat_map(|header| header.split(',')).filter_map(parse_hop).any(|hop| hop == client);
    assert!(client == proxy || spelled, "{client} is neither the peer nor a hop of {text:?}");
    let outsider = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    assert_eq!(client_ip(outsider, headers.iter().map(|header| Some(*header)), &[proxy]), outsider);
});
