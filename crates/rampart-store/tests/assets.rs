//! The inventory, part of the store contract on SQLite and PostgreSQL: a run's artifacts are the
//! organisation's assets, each once; a service new or back is a port opened, one a run settled the
//! port of and did not find is a port closed, and an endpoint presenting another certificate is a
//! certificate changed.

mod common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rampart_core::OrgId;
use rampart_core::assets::AssetKind;
use rampart_core::changes::ChangeKind;
use rampart_core::executions::{Finish, NewExecution};
use rampart_core::identity::Actor;
use rampart_core::output::{Artifact, Certificate, Covered, PORTS, Proto, ToolOutput};
use rampart_store::{AssetFilter, ChangeFilter, Effects, Seek, SqlStore, Store};
use rampart_testkit::Backend;
use rstest::rstest;
use serde_json::json;

use crate::common::{org, store};

async fn run(store: &SqlStore, org: OrgId, artifacts: Vec<Artifact>, coverage: Vec<Covered>) {
    let new = NewExecution {
        tool: "tcp_scan".into(),
        params: json!({}),
        actor: Actor::System,
        timeout: Duration::from_secs(60),
        max_attempts: 1,
    };
    store.executions().enqueue(org, &new, &|_| Effects::none()).await.expect("enqueue");
    let claimed = store.executions().claim("w1", Duration::from_secs(30), 10).await.expect("claim").expect("a run");
    let mut output = ToolOutput::new(json!({}));
    output.artifacts.extend(artifacts);
    output.coverage.extend(coverage);
    store.executions().finish(claimed.id, claimed.attempt, &Finish::Succeeded(output)).await.expect("finish");
}

fn service(port: u16) -> Artifact {
    Artifact::Service { host: [10, 0, 0, 5].into(), port, proto: Proto::Tcp, name: None }
}

fn certificate(sha: &str) -> Artifact {
    Artifact::Certificate(Certificate {
        subject: "CN=web.example".into(),
        issuer: "CN=CA".into(),
        sans: vec!["web.example".into()],
        not_before: None,
        not_after: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("a time"),
        sha256: sha.repeat(32),
        host: Some("web.example".into()),
        port: Some(443),
    })
}

async fn changes(store: &SqlStore, org: OrgId) -> Vec<(ChangeKind, String)> {
    let listed = store.change_events().list(org, &ChangeFilter::default(), Seek::first(100)).await.expect("changes");
    listed.into_iter().map(|change| (change.kind, change.detail)).collect()
}

#[rstest]
#[tokio::test]
async fn ports_open_close_and_open_again_and_certificates_change(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    let ports = |range: &str| vec![Covered::new(PORTS, "10.0.0.5").at(range)];

    run(
        &store,
        acme,
        vec![Artifact::Host { address: [10, 0, 0, 5].into() }, service(22), service(80), certificate("ab")],
        ports("tcp/1-1024"),
    )
    .await;
    // Seen again, and a scan of other ports only: nothing closes.
    run(&store, acme, vec![service(22), service(80)], ports("tcp/1-1024")).await;
    run(&store, acme, vec![], ports("tcp/8000-9000")).await;
    // Port 80 is no longer found where the run looked, and the endpoint shows another certificate.
    run(&store, acme, vec![service(22), certificate("cd")], ports("tcp/1-1024")).await;
    // Port 80 is back, and the site on it runs something new.
    let site = |technologies: &[&str]| Artifact::Url {
        url: "http://10.0.0.5/".into(),
        technologies: technologies.iter().map(|name| (*name).to_owned()).collect(),
    };
    run(&store, acme, vec![service(80), site(&["nginx"])], vec![]).await;
    run(&store, acme, vec![site(&["WordPress", "nginx"])], vec![]).await;
    run(&store, acme, vec![site(&["nginx", "WordPress"])], vec![]).await;

    let seen = changes(&store, acme).await;
    let kinds: Vec<ChangeKind> = seen.iter().map(|(kind, _)| *kind).collect();
    use ChangeKind::{CertificateChanged, PortClosed, PortOpened, TechnologyChanged};
    let expected = [PortOpened, PortOpened, CertificateChanged, PortClosed, PortOpened, TechnologyChanged];
    assert_eq!(kinds, expected, "the same technologies in another order are no change: {seen:?}");
    assert_eq!(seen[5].1, "was nginx; now WordPress, nginx");
    assert_eq!(seen[3].1, "10.0.0.5:tcp/80");
    assert_eq!(seen[4].1, "10.0.0.5:tcp/80 again");
    assert!(seen[2].1.contains(&"ab".repeat(32)) && seen[2].1.contains(&"cd".repeat(32)), "{}", seen[2].1);

    let all = store.assets().list(acme, &AssetFilter::default(), Seek::first(100)).await.expect("assets");
    assert_eq!(all.len(), 5, "a host, two services, an endpoint's certificate and a URL: {all:?}");
    let services = AssetFilter { kind: Some(AssetKind::Service), ..AssetFilter::default() };
    let services = store.assets().list(acme, &services, Seek::first(100)).await.expect("services");
    assert!(services.iter().all(|asset| !asset.gone), "port 80 is back");
    let endpoint = all.iter().find(|asset| asset.key.kind == AssetKind::Certificate).expect("the endpoint");
    assert_eq!(endpoint.key.value, "web.example:443");
    assert_eq!(endpoint.findings_at(), ("web.example".to_owned(), Some("tcp/443".to_owned())));
    let on_host = AssetFilter { host: Some("10.0.0.5".into()), ..AssetFilter::default() };
    assert_eq!(store.assets().list(acme, &on_host, Seek::first(100)).await.expect("on host").len(), 4);
    assert!(store.assets().list(other, &AssetFilter::default(), Seek::first(100)).await.expect("none").is_empty());
    assert!(store.assets().get(other, endpoint.id).await.is_err(), "another organisation's asset is not found");
}
