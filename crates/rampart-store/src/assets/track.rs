//! A run's artifacts become the organisation's inventory, in the run's finishing transaction: each
//! is matched to the asset it is (seen again) or added. Seeing the inventory change is a change
//! event: a service new or back (`port_opened`), a service the run looked for on its host and did
//! not find (`port_closed`: a coverage of [`PORTS`] at its port), an endpoint presenting another
//! certificate (`certificate_changed`), a URL answering with other technologies
//! (`technology_changed`).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use rampart_core::AssetId;
use rampart_core::assets::{AssetKey, AssetKind};
use rampart_core::changes::ChangeKind;
use rampart_core::output::{Artifact, Covered, PORTS};
use sqlx::types::Json;
use uuid::Uuid;

use crate::StoreResult;
use crate::change_events::{NewChange, insert_changes};
use crate::findings::track::{Run, push_in};

/// Assets per multi-row statement: 10 values a row.
const CHUNK: usize = 2000;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 5000;

/// What tracking a run's artifacts changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventoried {
    pub opened: u64,
    pub closed: u64,
    pub certificates_changed: u64,
    pub technologies_changed: u64,
}

#[async_trait]
pub(crate) trait TrackAssets {
    async fn track_assets(
        &mut self,
        run: &Run<'_>,
        artifacts: &[Artifact],
        coverage: &[Covered],
    ) -> StoreResult<Inventoried>;
}

#[derive(sqlx::FromRow)]
struct Known {
    id: Uuid,
    kind: String,
    value: String,
    data: Json<Artifact>,
    gone: bool,
}

struct Change {
    kind: ChangeKind,
    asset: String,
    detail: String,
}

/// Technologies as a change says them: `nginx 1.25, WordPress`, or `nothing recognised`.
fn listed(technologies: &[String]) -> String {
    if technologies.is_empty() { "nothing recognised".to_owned() } else { technologies.join(", ") }
}

/// What a service is called in a change: `10.0.0.5 tcp/22 (ssh)`.
fn said(artifact: &Artifact, key: &AssetKey) -> String {
    match artifact {
        Artifact::Service { name: Some(name), .. } => format!("{} ({name})", key.value),
        Artifact::Certificate(certificate) => {
            format!("{}, {} until {}", certificate.subject, &certificate.sha256, certificate.not_after.to_rfc3339())
        }
        _ => key.value.clone(),
    }
}

macro_rules! track_assets_on {
    ($conn:ty) => {
        #[async_trait]
        impl TrackAssets for $conn {
            async fn track_assets(
                &mut self,
                run: &Run<'_>,
                artifacts: &[Artifact],
                coverage: &[Covered],
            ) -> StoreResult<Inventoried> {
                // The last of the run's artifacts for an asset speaks for it.
                let mut seen: HashMap<AssetKey, &Artifact> = HashMap::with_capacity(artifacts.len());
                for artifact in artifacts {
                    seen.insert(AssetKey::of(artifact), artifact);
                }
                let keys: Vec<&AssetKey> = seen.keys().collect();
                let mut known: HashMap<(String, String), Known> = HashMap::new();
                for chunk in keys.chunks(IN_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::new("SELECT id, kind, value, data, gone FROM assets WHERE org_id = ");
                    query.push_bind(run.org).push(" AND value");
                    push_in!(query, chunk.iter().map(|key| key.value.as_str()));
                    for row in query.build_query_as::<Known>().fetch_all(&mut *self).await? {
                        known.insert((row.kind.clone(), row.value.clone()), row);
                    }
                }

                let mut inventoried = Inventoried::default();
                let mut changes: Vec<Change> = Vec::new();
                let mut fresh: Vec<(&AssetKey, &Artifact)> = Vec::new();
                let mut again: Vec<(Uuid, &Artifact)> = Vec::new();
                for (key, artifact) in &seen {
                    match known.get(&(key.kind.as_str().to_owned(), key.value.clone())) {
                        None => {
                            fresh.push((key, artifact));
                            if key.kind == AssetKind::Service {
                                inventoried.opened += 1;
                                changes.push(Change {
                                    kind: ChangeKind::PortOpened,
                                    asset: key.host.clone(),
                                    detail: said(artifact, key),
                                });
                            }
                        }
                        Some(row) => {
                            again.push((row.id, artifact));
                            if key.kind == AssetKind::Service && row.gone {
                                inventoried.opened += 1;
                                changes.push(Change {
                                    kind: ChangeKind::PortOpened,
                                    asset: key.host.clone(),
                                    detail: format!("{} again", said(artifact, key)),
                                });
                            }
                            if let (Artifact::Url { technologies: was, .. }, Artifact::Url { technologies: now, .. }) =
                                (&row.data.0, artifact)
                                && was != now
                            {
                                inventoried.technologies_changed += 1;
                                changes.push(Change {
                                    kind: ChangeKind::TechnologyChanged,
                                    asset: key.value.clone(),
                                    detail: format!("was {}; now {}", listed(was), listed(now)),
                                });
                            }
                            if let (Artifact::Certificate(was), Artifact::Certificate(now)) = (&row.data.0, artifact)
                                && was.sha256 != now.sha256
                            {
                                inventoried.certificates_changed += 1;
                                changes.push(Change {
                                    kind: ChangeKind::CertificateChanged,
                                    asset: key.value.clone(),
                                    detail: format!("was {}; now {}", said(&row.data.0, key), said(artifact, key)),
                                });
                            }
                        }
                    }
                }

                for chunk in fresh.chunks(CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "INSERT INTO assets (id, org_id, kind, value, host, data, gone, first_seen, last_seen, \
                         last_execution_id) ",
                    );
                    query.push_values(chunk, |mut row, (key, artifact)| {
                        row.push_bind(AssetId::new().as_uuid())
                            .push_bind(run.org)
                            .push_bind(key.kind.as_str())
                            .push_bind(key.value.as_str())
                            .push_bind(key.host.as_str())
                            .push_bind(Json(*artifact))
                            .push_bind(false)
                            .push_bind(run.now)
                            .push_bind(run.now)
                            .push_bind(run.id.as_uuid());
                    });
                    query.build().execute(&mut *self).await?;
                }
                for (id, artifact) in &again {
                    sqlx::query(
                        "UPDATE assets SET data = $1, gone = FALSE, last_seen = $2, last_execution_id = $3 \
                         WHERE org_id = $4 AND id = $5",
                    )
                    .bind(Json(*artifact))
                    .bind(run.now)
                    .bind(run.id.as_uuid())
                    .bind(run.org)
                    .bind(*id)
                    .execute(&mut *self)
                    .await?;
                }

                // Services of a host whose ports the run settled, not seen at a settled port: closed.
                let mut ports: HashMap<&str, Vec<&Covered>> = HashMap::new();
                for covered in coverage.iter().filter(|covered| covered.check == PORTS) {
                    ports.entry(covered.asset.as_str()).or_default().push(covered);
                }
                let hosts: Vec<&str> = ports.keys().copied().collect();
                let seen_values: HashSet<&str> = seen.keys().map(|key| key.value.as_str()).collect();
                let mut closed: Vec<(Uuid, String, String)> = Vec::new();
                for chunk in hosts.chunks(IN_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::new("SELECT id, kind, value, data, gone FROM assets WHERE org_id = ");
                    query.push_bind(run.org).push(" AND kind = 'service' AND gone = FALSE AND host");
                    push_in!(query, chunk.iter().copied());
                    for row in query.build_query_as::<Known>().fetch_all(&mut *self).await? {
                        let Artifact::Service { host, port, proto, .. } = &row.data.0 else { continue };
                        let (host, location) = (host.to_string(), format!("{proto}/{port}"));
                        let looked = ports
                            .get(host.as_str())
                            .is_some_and(|covers| covers.iter().any(|covered| covered.covers(PORTS, &host, &location)));
                        if looked && !seen_values.contains(row.value.as_str()) {
                            closed.push((row.id, host, row.value));
                        }
                    }
                }
                for chunk in closed.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new("UPDATE assets SET gone = TRUE, last_execution_id = ");
                    query.push_bind(run.id.as_uuid()).push(" WHERE org_id = ").push_bind(run.org).push(" AND id");
                    push_in!(query, chunk.iter().map(|(id, _, _)| *id));
                    query.build().execute(&mut *self).await?;
                    for (_, host, value) in chunk {
                        changes.push(Change {
                            kind: ChangeKind::PortClosed,
                            asset: host.clone(),
                            detail: value.clone(),
                        });
                    }
                }
                inventoried.closed = closed.len() as u64;

                let written: Vec<NewChange<'_>> = changes
                    .iter()
                    .map(|change| NewChange {
                        kind: change.kind,
                        asset: &change.asset,
                        finding: None,
                        detail: &change.detail,
                    })
                    .collect();
                insert_changes!(self, run, &written);
                Ok(inventoried)
            }
        }
    };
}

track_assets_on!(sqlx::SqliteConnection);
track_assets_on!(sqlx::PgConnection);
