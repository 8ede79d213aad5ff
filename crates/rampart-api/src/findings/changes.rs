//! `/api/v1/changes`: what changed between runs, oldest first, so a reader can follow along.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use rampart_core::changes::{ChangeEvent, ChangeKind};
use rampart_core::{ExecutionId, FindingId};
use rampart_store::ChangeFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery, parse_filter, text_filter, time_filter};
use crate::{ApiQuery, AppState};

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f14", "at": "2026-11-25T20:00:00Z", "kind": "finding_resolved",
    "asset": "10.0.0.5", "execution": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
    "finding": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "detail": "Redis exposed"
}))]
pub struct ChangeView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    #[schema(schema_with = crate::schemas::change_kinds)]
    pub kind: &'static str,
    pub asset: String,
    /// The run that saw the change.
    pub execution: Option<Uuid>,
    /// The finding it is about, if any.
    pub finding: Option<Uuid>,
    /// Said for people: the finding's title, the port, the certificates.
    pub detail: String,
}

impl From<ChangeEvent> for ChangeView {
    fn from(change: ChangeEvent) -> Self {
        Self {
            id: change.id.as_uuid(),
            at: change.at,
            kind: change.kind.as_str(),
            asset: change.asset,
            execution: change.execution.map(|id| id.as_uuid()),
            finding: change.finding.map(|id| id.as_uuid()),
            detail: change.detail,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    #[param(schema_with = crate::schemas::change_kinds)]
    pub kind: Option<String>,
    /// Exactly this asset.
    #[param(schema_with = crate::schemas::filter_text)]
    pub asset: Option<String>,
    /// Seen by this run.
    pub execution: Option<Uuid>,
    /// About this finding.
    pub finding: Option<Uuid>,
    /// At or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// What changed between runs — new, resolved and reopened findings — oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(ChangeQuery),
    responses((status = 200, description = "A page of changes", body = Page<ChangeView>))
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<ChangeQuery>,
) -> Result<Json<Page<ChangeView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let filter = ChangeFilter {
        kind: parse_filter::<ChangeKind>("kind", query.kind.as_deref())?,
        asset: text_filter("asset", query.asset.as_deref())?,
        execution: query.execution.map(ExecutionId::from_uuid),
        finding: query.finding.map(FindingId::from_uuid),
        since: time_filter("since", query.since)?,
    };
    let changes = app.store.change_events().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(changes, ChangeView::from, |change| change.id)))
}
