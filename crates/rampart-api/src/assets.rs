//! `/api/v1/assets`: the inventory — hosts, services, URLs, domains and certificates the
//! organisation's runs have seen — and the findings of each.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use rampart_core::assets::{Asset, AssetKind};
use rampart_core::{AssetId, ExecutionId};
use rampart_store::{AssetFilter, FindingFilter, FindingSort, Seek};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::findings::FindingView;
use crate::pagination::{Page, PageQuery, parse_filter, text_filter, time_filter};
use crate::{ApiQuery, AppState};

/// Findings shown with an asset at most.
const ASSET_FINDINGS: u32 = 100;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f15", "kind": "service", "value": "10.0.0.5:tcp/22", "host": "10.0.0.5",
    "data": {"kind": "service", "host": "10.0.0.5", "port": 22, "proto": "tcp", "name": "ssh"}, "gone": false,
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-25T20:00:00Z",
    "last_execution": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13"
}))]
pub struct AssetView {
    pub id: Uuid,
    #[schema(schema_with = crate::schemas::asset_kinds)]
    pub kind: &'static str,
    /// What it is: an address, `10.0.0.5:tcp/22`, a URL, a name, the endpoint of a certificate.
    pub value: String,
    /// What it stands on: a service's or an endpoint's host; itself for a host or a domain.
    pub host: String,
    /// The artifact last seen, tagged by `kind`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// A service a later run looked for and did not find: its port closed.
    pub gone: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_execution: Option<Uuid>,
}

impl From<Asset> for AssetView {
    fn from(asset: Asset) -> Self {
        Self {
            id: asset.id.as_uuid(),
            kind: asset.key.kind.as_str(),
            value: asset.key.value,
            host: asset.key.host,
            data: serde_json::to_value(&asset.data).unwrap_or_default(),
            gone: asset.gone,
            first_seen: asset.first_seen,
            last_seen: asset.last_seen,
            last_execution: asset.last_execution.map(|id: ExecutionId| id.as_uuid()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssetDetail {
    #[serde(flatten)]
    pub asset: AssetView,
    /// Its findings, the most severe first (at most 100).
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    #[param(schema_with = crate::schemas::asset_kinds)]
    pub kind: Option<String>,
    /// Standing on this host: the host, its services, the URLs and certificates on it.
    #[param(schema_with = crate::schemas::filter_text)]
    pub host: Option<String>,
    /// Text in its value, whatever the case.
    #[param(schema_with = crate::schemas::filter_text)]
    pub q: Option<String>,
    /// Only closed services (true), or only what is there (false).
    pub gone: Option<bool>,
    /// Seen at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// The organisation's inventory, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(AssetQuery),
    responses((status = 200, description = "A page of assets", body = Page<AssetView>))
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<AssetQuery>,
) -> Result<Json<Page<AssetView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let filter = AssetFilter {
        kind: parse_filter::<AssetKind>("kind", query.kind.as_deref())?,
        host: text_filter("host", query.host.as_deref())?,
        text: text_filter("q", query.q.as_deref())?,
        gone: query.gone,
        since: time_filter("since", query.since)?,
    };
    let assets = app.store.assets().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(assets, AssetView::from, |asset| asset.id)))
}

/// One asset, with its findings.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The asset's id")),
    responses((status = 200, description = "The asset", body = AssetDetail))
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<AssetId>,
) -> Result<Json<AssetDetail>, ApiError> {
    let asset = app.store.assets().get(caller.org, id).await?;
    let (at, location) = asset.findings_at();
    let filter = FindingFilter { asset: Some(at), location, ..FindingFilter::default() };
    let findings =
        app.store.findings().list(caller.org, &filter, FindingSort::SeverityDesc, Seek::first(ASSET_FINDINGS)).await?;
    let now = app.store.clock().now();
    Ok(Json(AssetDetail {
        asset: asset.into(),
        findings: findings.into_iter().map(|finding| FindingView::at(finding, now)).collect(),
    }))
}
