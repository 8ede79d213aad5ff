//! Fuzzes the target parser and the scope check: no input may panic, a parsed value must parse
//! again to itself, never start with '-', and a scope of it must cover itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::targets::{Host, Scope, ScopeTarget, TargetValue, parse_host_port};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_host_port(text);
    let Ok(value) = TargetValue::parse(text) else { return };
    let spelled = value.to_string();
    assert!(!spelled.starts_with('-'));
    assert_eq!(TargetValue::parse(&spelled).as_ref(), Ok(&value));
    let scope = Scope::new(vec![ScopeTarget { value: value.clone(), ports: None, exclude: false }]);
    match &value {
        TargetValue::Ip(address) => assert!(scope.check(&Host::Ip(*address), Some(80)).is_in()),
        TargetValue::Host(name) => assert!(scope.check(&Host::Name(name.clone()), None).is_in()),
        TargetValue::Wildcard(domain) => {
            assert!(scope.check(&Host::Name(format!("www.{domain}")), None).is_in());
            assert!(!scope.check(&Host::Name(domain.clone()), None).is_in());
        }
        TargetValue::Cidr(net) => assert!(scope.check(&Host::Ip(net.network()), None).is_in()),
    }
});
