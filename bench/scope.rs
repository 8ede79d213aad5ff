//! Scope checks per second: 1,000,000 random addresses (with ports) against 10,000 targets (IPv4
//! and IPv6 networks, single addresses, exclusions, port ranges), on one core. The peer is the
//! obvious implementation — every target tried in turn — run on a sample, which must agree with
//! the index on every answer.
//!
//! Run: `cargo bench -p rampart-core --bench scope`. Ends with one JSON line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rampart_core::targets::{PortRanges, Scope, ScopeTarget, TargetValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TARGETS: usize = 10_000;
const CHECKS: usize = 1_000_000;
const SAMPLE: usize = 20_000;

fn random_target(rng: &mut StdRng) -> ScopeTarget {
    let value = if rng.random_bool(0.8) {
        // IPv4 within 10.0.0.0/8, so that checks hit targets often.
        let address = Ipv4Addr::from(0x0a00_0000 | (rng.random::<u32>() & 0x00ff_ffff));
        match rng.random_range(16..=32) {
            32 => TargetValue::Ip(IpAddr::V4(address)),
            prefix => TargetValue::Cidr(IpNet::V4(Ipv4Net::new(address, prefix).expect("valid").trunc())),
        }
    } else {
        let address = Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(rng.random::<u64>()) << 32);
        TargetValue::Cidr(IpNet::V6(Ipv6Net::new(address, rng.random_range(48..=64)).expect("valid").trunc()))
    };
    let ports = rng.random_bool(0.2).then(|| {
        let low: u16 = rng.random_range(1..60_000);
        PortRanges::parse(&format!("22,{low}-{}", low + rng.random_range(0..2000))).expect("valid")
    });
    ScopeTarget { value, ports, exclude: rng.random_bool(0.1) }
}

fn random_probe(rng: &mut StdRng) -> (IpAddr, u16) {
    let address = if rng.random_bool(0.8) {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (rng.random::<u32>() & 0x00ff_ffff)))
    } else {
        IpAddr::V6(Ipv6Addr::from(
            0x2001_0db8_u128 << 96 | u128::from(rng.random::<u64>()) << 32 | u128::from(rng.random::<u32>()),
        ))
    };
    (address, rng.random_range(1..=65_535))
}

/// Every target tried in turn: what a first implementation does.
fn naive(targets: &[ScopeTarget], address: IpAddr, port: u16) -> bool {
    let covers = |t: &ScopeTarget| {
        let hit = match &t.value {
            TargetValue::Ip(a) => *a == address,
            TargetValue::Cidr(net) => net.contains(&address),
            _ => false,
        };
        hit && t.ports.as_ref().is_none_or(|ports| ports.contains(port))
    };
    targets.iter().any(|t| !t.exclude && covers(t)) && !targets.iter().any(|t| t.exclude && covers(t))
}

fn main() {
    let mut rng = StdRng::seed_from_u64(20261124);
    let targets: Vec<ScopeTarget> = (0..TARGETS).map(|_| random_target(&mut rng)).collect();
    let probes: Vec<(IpAddr, u16)> = (0..CHECKS).map(|_| random_probe(&mut rng)).collect();

    let started = Instant::now();
    let scope = Scope::new(targets.clone());
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;

    let started = Instant::now();
    let mut inside = 0usize;
    for (address, port) in &probes {
        inside += usize::from(scope.allows(*address, Some(*port)));
    }
    let ours = CHECKS as f64 / started.elapsed().as_secs_f64();

    let sample = &probes[..SAMPLE];
    let started = Instant::now();
    let expected: Vec<bool> = sample.iter().map(|(address, port)| naive(&targets, *address, *port)).collect();
    let peer = SAMPLE as f64 / started.elapsed().as_secs_f64();
    let agrees = sample
        .iter()
        .zip(&expected)
        .all(|((address, port), expected)| scope.allows(*address, Some(*port)) == *expected);

    println!("targets: {TARGETS}, index built in {build_ms:.1} ms");
    println!("indexed scope: {ours:>14.0} checks/s ({CHECKS} checks, {inside} in scope)");
    println!("linear scan:   {peer:>14.0} checks/s ({SAMPLE} checks, the same answers: {agrees})");
    println!(
        "{{\"bench\": \"scope_check\", \"ours\": {ours:.0}, \"peer\": {peer:.0}, \"unit\": \"checks/s\", \"ratio\": {:.1}, \"correct\": {agrees}}}",
        ours / peer
    );
}
