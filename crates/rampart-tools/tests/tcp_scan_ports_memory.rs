//! A port list is parsed in memory bounded by the ports there are, not by how often a part
//! repeats: the full range or a named set repeated as often as a request body holds must not
//! list every repeat before removing the duplicates. The process's peak resident memory
//! (`VmHWM`, Linux) measures it; this file holds one test so that nothing else moves it.

use rampart_tools::tcp_scan::parse_ports;

/// The peak resident memory of this process so far, in bytes.
fn peak_resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux's /proc");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    let kib: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a size in kB");
    kib * 1024
}

#[test]
fn repeated_parts_do_not_multiply_the_memory_a_port_list_takes() {
    // 4,000 repeats of the full range (32 kB of text): listed one by one before removing the
    // duplicates, 524 MB of ports; one 1 MiB request body would hold 131,072 repeats.
    let full = "1-65535,".repeat(4000);
    // A named set as often as 180 kB of text holds: 20,000 x 1,000 ports listed one by one, 40 MB.
    let named = "top-1000,".repeat(20_000);
    let before = peak_resident();

    let ports = parse_ports(&full).expect("a valid list");
    assert_eq!(ports.len(), 65_535);
    let ports = parse_ports(&named).expect("a valid list");
    assert_eq!(ports.len(), 1000);

    let grown = peak_resident().saturating_sub(before);
    assert!(grown < 16 << 20, "parsing the port lists grew the peak resident memory by {grown} bytes");
}
