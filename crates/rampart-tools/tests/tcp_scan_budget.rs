//! The address budget of a `tcp_scan` run, as the worker meets it: networks and names are counted
//! against what is left of one budget for the whole run while they are expanded, before any list
//! of addresses is built or any probe sent. The scope here covers only 127.0.0.0/8 and `::/0`'s
//! check never gets as far as a packet, so nothing can leave the loopback network.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, GateError, Refusal, RefusalSink, Resolver};
use rampart_tools::{Tool, ToolContext, Update};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `many.test` resolves to `count` loopback addresses from 127.128.0.0 on; every other name to
/// nothing.
struct Many {
    count: u32,
}

#[async_trait]
impl Resolver for Many {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        if name != "many.test" {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such name"));
        }
        let first = u32::from(Ipv4Addr::new(127, 128, 0, 0));
        Ok((0..self.count).map(|offset| IpAddr::V4(Ipv4Addr::from(first + offset))).collect())
    }
}

#[derive(Default)]
struct Collected(Mutex<Vec<Refusal>>);

#[async_trait]
impl RefusalSink for Collected {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("lock").push(refusal.clone());
    }
}

fn gate(scope: &[&str], resolved: u32) -> (Gate, Arc<Collected>) {
    let targets = scope
        .iter()
        .map(|value| ScopeTarget { value: TargetValue::parse(value).expect("valid"), ports: None, exclude: false })
        .collect();
    let refusals = Arc::new(Collected::default());
    let gate = Gate::new(
        Arc::new(Scope::new(targets)),
        Arc::new(DenyList::default()),
        Arc::new(Many { count: resolved }),
        refusals.clone(),
    );
    (gate, refusals)
}

#[tokio::test]
async fn a_network_larger_than_what_is_left_is_refused_and_the_whole_space_is_counted_without_overflow() {
    let (gate, refusals) = gate(&["127.0.0.0/8", "8000::/1", "0.0.0.0/0"], 0);

    assert_eq!(gate.expand("127.0.0.0/16", 65_536).await.expect("fits exactly").len(), 65_536);
    assert!(matches!(gate.expand("127.0.0.0/16", 65_535).await, Err(GateError::Refused(_))));
    for whole in ["8000::/1", "0.0.0.0/0", "8000::/2"] {
        let refused = gate.expand(whole, 65_536).await;
        assert!(matches!(refused, Err(GateError::Refused(_))), "{whole}: {refused:?}");
    }
    assert_eq!(refusals.0.lock().expect("lock").len(), 4, "every refusal is reported");
    assert!(matches!(gate.expand("127.0.0.1", 0).await, Err(GateError::Refused(_))), "an address counts one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_more_than_is_left_of_the_budget_fails_the_run_before_any_probe() {
    // 32768 addresses of a network and 40000 of a name: each fits the budget, both do not.
    let (gate, refusals) = gate(&["127.0.0.0/8", "many.test"], 40_000);
    let (sender, mut updates) = mpsc::unbounded_channel();
    let context = ToolContext::new(gate, CancellationToken::new(), sender);
    let tool = rampart_tools::tcp_scan::TcpScan;
    let params = json!({"targets": ["127.0.0.0/17", "many.test"], "ports": "1", "timeout_ms": 10});
    assert!(tool.check(&params).is_ok(), "at submit a name counts as one address");

    let failed = tool.run(params, context).await.expect_err("the run is refused");

    assert!(failed.contains("many.test names 40000 addresses, more than the 32768 left"), "{failed}");
    let refused = refusals.0.lock().expect("lock").clone();
    assert_eq!(refused.iter().map(|refusal| refusal.host.as_str()).collect::<Vec<_>>(), ["many.test"]);
    while let Ok(update) = updates.try_recv() {
        assert!(!matches!(update, Update::Progress { .. }), "no probe was sent: {update:?}");
    }
}
