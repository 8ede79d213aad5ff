//! `/api/v1/findings` and `/api/v1/changes`: the organisation's tracked findings — listed,
//! counted, triaged one at a time or in bulk — and what changed between runs.

mod changes;
mod dto;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rampart_core::findings::{FindingChange, FindingStatus, Severity};
use rampart_core::{ExecutionId, FindingId, UserId, ValidationErrors};
use rampart_engine::reports;
use rampart_report::{Format, Report};
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
        .routes(routes!(export))
        .routes(routes!(run_report))
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
            location: None,
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

impl FindingQuery {
    /// The filters given, said for the cover of a report.
    fn criteria(&self) -> Vec<(String, String)> {
        let texts = [
            ("severity", &self.severity),
            ("status", &self.status),
            ("asset", &self.asset),
            ("tool", &self.tool),
            ("check", &self.check),
            ("target", &self.target),
            ("text", &self.q),
        ];
        let mut criteria: Vec<(String, String)> = texts
            .into_iter()
            .filter_map(|(name, value)| value.as_ref().map(|value| (name.to_owned(), value.clone())))
            .collect();
        let others = [
            ("seen since", self.since.map(|since| since.to_rfc3339())),
            ("regression", self.regression.map(|yes| yes.to_string())),
            ("assignee", self.assignee.map(|id| id.to_string())),
            ("overdue", self.overdue.map(|yes| yes.to_string())),
            ("run", self.execution.map(|id| id.to_string())),
        ];
        criteria.extend(others.into_iter().filter_map(|(name, value)| value.map(|value| (name.to_owned(), value))));
        criteria
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (the default), `csv`, `sarif` (2.1.0), `html` (one self-contained page) or `pdf`.
    #[param(schema_with = crate::schemas::report_formats)]
    pub format: Option<String>,
}

impl FormatQuery {
    fn format(&self) -> Result<Format, ApiError> {
        let Some(format) = self.format.as_deref() else { return Ok(Format::Json) };
        format.parse::<Format>().map_err(|message| ValidationErrors::single("format", message).into())
    }
}

/// The report as a download: rendered off the async threads, with its media type and a file name.
async fn download(report: Report, format: Format, name: &str) -> Result<Response, ApiError> {
    let bytes = tokio::task::spawn_blocking(move || rampart_report::render(format, &report))
        .await
        .map_err(|_| ApiError::Internal("rendering a report stopped".into()))?;
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(format.content_type())),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition)
                .map_err(|_| ApiError::Internal("a file name is not a header value".into()))?,
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// The findings the list's filters select, as a report: JSON, CSV, SARIF 2.1.0, a self-contained
/// HTML page, or a PDF with a summary page; the most severe first, at most 100,000 (the rest are
/// counted on its cover; HTML and PDF show the first 5,000 in their table).
#[utoipa::path(
    get,
    path = "/api/v1/findings/export",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(FormatQuery, FindingQuery),
    responses((status = 200, description = "The report, as a file to save", content(
        (Object = "application/json"), (String = "text/csv"), (Object = "application/sarif+json"),
        (String = "text/html"), (Vec<u8> = "application/pdf")
    )))
)]
pub async fn export(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(format): ApiQuery<FormatQuery>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Response, ApiError> {
    let format = format.format()?;
    let filter = query.filter()?;
    let report =
        reports::report(app.store.as_ref(), caller.org, "Findings".to_owned(), &filter, query.criteria()).await?;
    download(report, format, "findings").await
}

/// The report of one run: the findings it saw, as they stand now, in any format of the export.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/report",
    tag = "findings",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The run's id"), FormatQuery),
    responses((status = 200, description = "The report, as a file to save", content(
        (Object = "application/json"), (String = "text/csv"), (Object = "application/sarif+json"),
        (String = "text/html"), (Vec<u8> = "application/pdf")
    )))
)]
pub async fn run_report(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<ExecutionId>,
    ApiQuery(format): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    // The run this path names: one the organisation lacks is not found, whatever else is asked.
    app.store.executions().get(caller.org, id).await?;
    let format = format.format()?;
    let report = reports::run_report(app.store.as_ref(), caller.org, id).await?;
    download(report, format, &format!("run-{id}")).await
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
    let runs = app.store.findings().runs(caller.org, id, DETAIL_ROWS).await?;
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
