//! `/api/v1/attackers`: the sources that probed the organisation, by risk or by recency, and the
//! profile of one: what it did, touched and tried. Read-only; the profiles are kept by ingestion.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use rampart_core::ValidationErrors;
use rampart_core::watch::AttackerOrder;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::AttackerView;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery};
use crate::{ApiQuery, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttackerQuery {
    /// `risk` (highest score first, the default) or `recency` (last seen first).
    #[param(pattern = "^(risk|recency)$")]
    pub sort: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^b[w-z0-9_-][A-Za-z0-9_-]{4}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
}

fn parse_order(sort: Option<&str>) -> Result<AttackerOrder, String> {
    match sort {
        None | Some("risk") => Ok(AttackerOrder::Risk),
        Some("recency") => Ok(AttackerOrder::Recency),
        Some(_) => Err("must be one of risk, recency".into()),
    }
}

/// The address a path names.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IpPath {
    /// The source address, IPv4 or IPv6.
    #[param(schema_with = crate::schemas::ip_address)]
    #[allow(dead_code)]
    pub ip: String,
}

/// Reads an address given in a path, naming `field` when it is not one.
pub(crate) fn parse_ip(field: &str, text: &str) -> Result<IpAddr, ApiError> {
    text.parse().map_err(|_| ValidationErrors::single(field, "must be an IPv4 or IPv6 address").into())
}

/// The sources that probed the organisation.
#[utoipa::path(
    get,
    path = "/api/v1/attackers",
    tag = "attackers",
    security(("bearer" = ["viewer"])),
    params(AttackerQuery),
    responses(
        (status = 200, description = "A page of attackers", body = Page<AttackerView>),
        (status = 422, description = "A bad sort, limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<AttackerQuery>,
) -> Result<Json<Page<AttackerView>>, ApiError> {
    let mut errors = ValidationErrors::new();
    let order = errors.check("sort", parse_order(query.sort.as_deref()));
    // Every bad parameter is named, not the first.
    let page_query = PageQuery { limit: query.limit, cursor: query.cursor.clone() };
    let page = match page_query.parse_offset() {
        Ok(page) => Some(page),
        Err(ApiError::Validation(page_errors)) => {
            page_errors.into_iter().for_each(|error| errors.add(error.field, error.message));
            None
        }
        Err(error) => return Err(error),
    };
    let (Some(order), Some((limit, offset))) = (order, page) else { return Err(errors.into()) };
    let attackers = app.store.watch().attackers(caller.org, order, offset, limit + 1).await?;
    Ok(Json(Page::at_offset(attackers.into_iter().map(AttackerView::from).collect(), limit, offset)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceCount {
    pub service: String,
    pub events: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeCount {
    pub node_id: Uuid,
    /// Absent when the node has since been deleted.
    pub name: Option<String>,
    pub events: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsernameCount {
    pub username: String,
    pub attempts: u64,
}

/// A source's counters with what it touched and tried, most first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "source_ip": "203.0.113.7", "events": 42, "alerts": 3, "avg_score": 5.25, "max_score": 9.0,
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-24T21:10:00Z",
    "services": [{"service": "ssh", "events": 40}, {"service": "http", "events": 2}],
    "nodes": [{"node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "ssh-trap-1", "events": 42}],
    "top_usernames": [{"username": "root", "attempts": 30}, {"username": "admin", "attempts": 9}]
}))]
pub struct AttackerProfileView {
    #[serde(flatten)]
    pub attacker: AttackerView,
    pub services: Vec<ServiceCount>,
    pub nodes: Vec<NodeCount>,
    /// The usernames it tried most, at most ten. Passwords tried are never shown.
    pub top_usernames: Vec<UsernameCount>,
}

/// What one source did to the organisation: its counters, the services and nodes it touched,
/// the usernames it tried.
#[utoipa::path(
    get,
    path = "/api/v1/attackers/{ip}",
    tag = "attackers",
    security(("bearer" = ["viewer"])),
    params(crate::watch::attackers::IpPath),
    responses(
        (status = 200, description = "The profile", body = AttackerProfileView),
        (status = 404, description = "The organisation never saw this address", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an IP address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(ip): Path<String>,
) -> Result<Json<AttackerProfileView>, ApiError> {
    let profile = app.store.watch().attacker(caller.org, parse_ip("ip", &ip)?).await?;
    let names: HashMap<Uuid, String> =
        super::nodes::all(&app, caller.org).await?.into_iter().map(|node| (node.id.as_uuid(), node.name)).collect();
    Ok(Json(AttackerProfileView {
        attacker: profile.attacker.into(),
        services: profile.services.into_iter().map(|(service, events)| ServiceCount { service, events }).collect(),
        nodes: profile
            .nodes
            .into_iter()
            .map(|(node, events)| NodeCount {
                node_id: node.as_uuid(),
                name: names.get(&node.as_uuid()).cloned(),
                events,
            })
            .collect(),
        top_usernames: profile
            .top_usernames
            .into_iter()
            .map(|(username, attempts)| UsernameCount { username, attempts })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_is_the_default_order_and_anything_else_is_named() {
        assert_eq!(parse_order(None).ok(), Some(AttackerOrder::Risk));
        assert_eq!(parse_order(Some("recency")).ok(), Some(AttackerOrder::Recency));
        assert!(parse_order(Some("age")).is_err());
        assert!(parse_ip("ip", "2001:db8::1").is_ok());
        assert!(parse_ip("ip", "203.0.113.300").is_err());
    }
}
