//! `/api/v1/findings` and `/api/v1/changes`: the organisation's tracked findings — listed,
//! counted, triaged one at a time or in bulk — and what changed between runs.

mod changes;
mod dto;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use rampart_core::findings::{FindingChange, FindingStatus, Severity};
use rampart_core::{ExecutionId, FindingId, UserId, ValidationErrors};
use rampart_store::{FindingFilter, FindingSort};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub use dto::{FindingBulkBody, FindingDetail, FindingPatchBody, FindingSummaryView, FindingView};

use crate::auth::{Analyst, Caller, Context};
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery, parse_filter, text_filter, time_filter};
use crate::{ApiJson, ApiQuery, AppState};

/// Entries of a finding's history, and runs that saw it, shown with it at most.
const DETAIL_ROWS: u32 = 100;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(summary))
        .routes(routes!(bulk))
        .routes(routes!(get, update))
        .routes(routes!(changes::list))
}

/// Which findings: the filters of the list, its summary and its exports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingQuery {
    /// `info`, `low`, `medium`, `high` or `critical`.
    #[param(schema_with = crate::schemas::severities)]
    pub severity: Option<String>,
    /// `open`, `acknowledged`, `resolved`, `false_positive` or `accepted`.
    #[param(schema_with = crate::schemas::finding_statuses)]
    pub status: Option<String>,
    /// Exactly this asset: an address, a host name or a URL.
    #[param(schema_with = crate::schemas::filter_text)]
    pub asset: Option<String>,
    /// Seen by this tool.
    #[param(schema_with = crate::schemas::filter_text)]
    pub tool: Option<String>,
    /// This check id, or every check of a family: `tls_inspect.*`.
    #[param(schema_with = crate::schemas::filter_text)]
    pub check: Option<String>,
    /// On this target: the name or address itself, names under it, URLs on it.
    #[param(schema_with = crate::schemas::filter_text)]
    pub target: Option<String>,
    /// Seen at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Text in the title, asset or check id, whatever the case.
    #[param(schema_with = crate::schemas::filter_text)]
    pub q: Option<String>,
    /// Only regressions (resolved, then seen again), or only the others.
    pub regression: Option<bool>,
    /// Assigned to this user.
    pub assignee: Option<Uuid>,
    /// Only findings still open past their due date (true), or only the others (false).
    pub overdue: Option<bool>,
    /// Seen by this run.
    pub execution: Option<Uuid>,
}

impl FindingQuery {
    /// The filter, or a 422 naming every bad parameter.
    pub(crate) fn filter(&self) -> Result<FindingFilter, ApiError> {
        Ok(FindingFilter {
            severity: parse_filter::<Severity>("severity", self.severity.as_deref())?,
            status: parse_filter::<FindingStatus>("status", self.status.as_deref())?,
            asset: text_filter("asset", self.asset.as_deref())?,
            tool: text_filter("tool", self.tool.as_deref())?,
            check: text_filter("check", self.check.as_deref())?,
            target: text_filter("target", self.target.as_deref())?,
            since: time_filter("since", self.since)?,
            text: text_filter("q", self.q.as_deref())?,
            regression: self.regression,
            assignee: self.assignee.map(UserId::from_uuid),
            overdue: self.overdue,
            execution: self.execution.map(ExecutionId::from_uuid),
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `severity`, `last_seen` or `first_seen`, with `-` first for the greatest first (default
    /// `-severity`: the most severe first); the newest first among equals.
    #[param(schema_with = sorts)]
    pub sort: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

const SORTS: [(&str, FindingSort); 6] = [
    ("-severity", FindingSort::SeverityDesc),
    ("severity", FindingSort::SeverityAsc),
    ("-last_seen", FindingSort::LastSeenDesc),
    ("last_seen", FindingSort::LastSeenAsc),
    ("-first_seen", FindingSort::FirstSeenDesc),
    ("first_seen", FindingSort::FirstSeenAsc),
];

fn sorts() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(SORTS.map(|(name, _)| name)))
        .build()
}

fn parse_sort(sort: Option<&str>) -> Result<FindingSort, ApiError> {
    let Some(sort) = sort else { return Ok(FindingSort::default()) };
    SORTS.iter().find(|(name, _)| *name == sort).map(|(_, sort)| *sort).ok_or_else(|| {
        ValidationErrors::single(
            "sort",
            "must be one of -severity, severity, -last_seen, last_seen, -first_seen, first_seen",
        )
        .into()
    })
}

/// The organisation's findings, filtered and sorted (the most severe first by default).
#[utoipa::path(
    get,
    path = "/api/v1/findings",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(FindingQuery, ListQuery),
    responses((status = 200, description = "A page of findings", body = Page<FindingView>))
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<FindingQuery>,
    ApiQuery(page): ApiQuery<ListQuery>,
) -> Result<Json<Page<FindingView>>, ApiError> {
    let asked = PageQuery::parse(page.limit, page.cursor.as_deref())?;
    let sort = parse_sort(page.sort.as_deref())?;
    let filter = query.filter()?;
    let now = app.store.clock().now();
    let findings = app.store.findings().list(caller.org, &filter, sort, asked.seek()).await?;
    Ok(Json(asked.page(findings, |finding| FindingView::at(finding, now), |view| view.id)))
}

/// Counts of the findings the filters select: by severity, status and tool, the assets with the
/// most, and how many are overdue.
#[utoipa::path(
    get,
    path = "/api/v1/findings/summary",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(FindingQuery),
    responses((status = 200, description = "The counts", body = FindingSummaryView))
)]
pub async fn summary(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<FindingSummaryView>, ApiError> {
    let filter = query.filter()?;
    Ok(Json(app.store.findings().summary(caller.org, &filter).await?.into()))
}

/// One finding, with its history (who changed what, and why) and the runs that saw it.
#[utoipa::path(
    get,
    path = "/api/v1/findings/{id}",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The finding's id")),
    responses((status = 200, description = "The finding", body = FindingDetail))
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<FindingId>,
) -> Result<Json<FindingDetail>, ApiError> {
    let finding = app.store.findings().get(caller.org, id).await?;
    let history = app.store.findings().history(caller.org, id, DETAIL_ROWS).await?;
    let runs = app.store.findings().sightings(caller.org, id, DETAIL_ROWS).await?;
    let now = app.store.clock().now();
    Ok(Json(FindingDetail::new(finding, history, runs, now)))
}

/// Triage one finding (analysts): its status (closing it needs a note saying why; accepting a
/// risk needs `accepted_until`), its assignee, a note. Audited, and kept in its history.
#[utoipa::path(
    patch,
    path = "/api/v1/findings/{id}",
    tag = "findings",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The finding's id")),
    request_body = FindingPatchBody,
    responses((status = 200, description = "The finding as changed", body = FindingView))
)]
pub async fn update(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<FindingId>,
    ApiJson(body): ApiJson<FindingPatchBody>,
) -> Result<Json<FindingView>, ApiError> {
    let change = body.change()?;
    // The one finding this path names: one the organisation lacks is not found.
    app.store.findings().get(caller.org, id).await?;
    let mut changed = app.engine.change_findings(&caller.acting(context), &[id], change).await?;
    let finding = changed.pop().ok_or(ApiError::NotFound)?;
    Ok(Json(FindingView::at(finding, app.store.clock().now())))
}

/// Triage many findings at once (analysts): the same change to each, all or none. Audited once,
/// and kept in each one's history.
#[utoipa::path(
    post,
    path = "/api/v1/findings/bulk",
    tag = "findings",
    security(("bearer" = ["analyst"])),
    request_body = FindingBulkBody,
    responses(
        (status = 200, description = "The findings as changed", body = Vec<FindingView>),
        (status = 404, description = "One of the findings is not the organisation's; nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn bulk(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<FindingBulkBody>,
) -> Result<Json<Vec<FindingView>>, ApiError> {
    let ids: Vec<FindingId> = body.ids.iter().copied().map(FindingId::from_uuid).collect();
    let change = body.patch().change()?;
    let changed = app.engine.change_findings(&caller.acting(context), &ids, change).await?;
    let now = app.store.clock().now();
    Ok(Json(changed.into_iter().map(|finding| FindingView::at(finding, now)).collect()))
}

impl FindingPatchBody {
    fn change(&self) -> Result<FindingChange, ApiError> {
        let mut errors = ValidationErrors::new();
        let status = self.status.as_deref().and_then(|status| errors.check("status", status.parse::<FindingStatus>()));
        errors
            .into_result(|| FindingChange {
                status,
                accepted_until: self.accepted_until,
                assignee: self.assignee.map(|assignee| assignee.map(UserId::from_uuid)),
                note: self.note.clone().unwrap_or_default(),
            })
            .map_err(ApiError::from)
    }
}
