//! Reports: the findings a filter selects (an organisation's, or one run's), in the order of the
//! list — the most severe first — gathered page by page up to a bound, ready to be rendered in any
//! of `rampart_report`'s formats.

use rampart_core::findings::TrackedFinding;
use rampart_core::{ExecutionId, OrgId};
use rampart_report::Report;
use rampart_store::{FindingFilter, FindingSort, Seek, Store, StoreError};

/// Findings one report carries at most; the rest are counted on its cover.
pub const REPORT_MAX: usize = 100_000;
/// Findings read from the store at a time.
const PAGE: u32 = 5_000;

/// The findings of `org` that `filter` selects, as a report titled `title`, its criteria said as
/// `criteria`.
pub async fn report(
    store: &dyn Store,
    org: OrgId,
    title: String,
    filter: &FindingFilter,
    criteria: Vec<(String, String)>,
) -> Result<Report, StoreError> {
    let organisation = store.orgs().get(org).await?;
    let mut findings: Vec<TrackedFinding> = Vec::new();
    let mut from = None;
    loop {
        let seek = Seek { from, limit: PAGE };
        let page = store.findings().list(org, filter, FindingSort::SeverityDesc, seek).await?;
        let full = page.len() == PAGE as usize;
        from = page.last().map(|finding| finding.id);
        findings.extend(page);
        if !full || findings.len() >= REPORT_MAX {
            break;
        }
    }
    let left_out = if findings.len() >= REPORT_MAX {
        findings.truncate(REPORT_MAX);
        store.findings().summary(org, filter).await?.total.saturating_sub(REPORT_MAX as u64)
    } else {
        0
    };
    Ok(Report {
        title,
        organisation: organisation.name,
        generated_at: store.clock().now(),
        criteria,
        findings,
        left_out,
    })
}

/// The report of one run: the findings it saw, as they stand now.
pub async fn run_report(store: &dyn Store, org: OrgId, run: ExecutionId) -> Result<Report, StoreError> {
    let execution = store.executions().get(org, run).await?;
    let filter = FindingFilter { execution: Some(run), ..FindingFilter::default() };
    let criteria = vec![("run".to_owned(), format!("{run} ({})", execution.tool))];
    report(store, org, format!("Run {run} ({})", execution.tool), &filter, criteria).await
}
