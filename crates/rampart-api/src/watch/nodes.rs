//! `/api/v1/nodes`: the organisation's sensors. Admins create, change, delete and re-key them;
//! everyone reads. A node's key is shown once, when it is created or rotated.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::watch::{NewNode, Node, NodeKind, NodeStatus, nodes::parse_name};
use rampart_core::{NodeId, ValidationErrors};
use rampart_store::{NodeFilter, NodePatch};

use super::dto::{DecoyView, NewNodeBody, NodePatchBody, NodeQuery, NodeView, NodeWithKey};
use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery, parse_filter};
use crate::{ApiJson, ApiQuery, AppState};

/// Register a sensor; the answer carries its key, shown this once. A node moved from the replaced
/// system keeps its id there (`legacy_id`) and its key (`key`), so its deployed sensors keep
/// working unchanged.
#[utoipa::path(
    post,
    path = "/api/v1/nodes",
    tag = "nodes",
    security(("bearer" = ["admin"])),
    request_body = NewNodeBody,
    responses(
        (status = 201, description = "Created, with its key", body = NodeWithKey),
        (status = 409, description = "The organisation has a node of that name or legacy id, or the key is already a node's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewNodeBody>,
) -> Result<(StatusCode, Json<NodeWithKey>), ApiError> {
    let (new, imported_key) =
        NewNode::parse_imported(&body.name, &body.kind, body.metadata, body.legacy_id.as_deref(), body.key.as_deref())?;
    let acting = caller.acting(context);
    let (node, key) = match imported_key {
        Some(key) => app.watch.import_node(&acting, &new, &key).await?,
        None => app.watch.create_node(&acting, &new).await?,
    };
    Ok((StatusCode::CREATED, Json(NodeWithKey { node: node.into(), key })))
}

/// The organisation's nodes, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "nodes",
    security(("bearer" = ["viewer"])),
    params(NodeQuery),
    responses(
        (status = 200, description = "A page of nodes", body = Page<NodeView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<NodeQuery>,
) -> Result<Json<Page<NodeView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let filter = NodeFilter {
        kind: parse_filter::<NodeKind>("kind", query.kind.as_deref())?,
        status: parse_filter::<NodeStatus>("status", query.status.as_deref())?,
    };
    let nodes = app.store.nodes().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(nodes, NodeView::from, |node| node.id)))
}

/// One node.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The node's id")),
    responses(
        (status = 200, description = "The node", body = NodeView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<NodeId>,
) -> Result<Json<NodeView>, ApiError> {
    Ok(Json(app.store.nodes().get(caller.org, id).await?.into()))
}

/// Rename a node, or switch it off (`inactive`: its key is refused) and on.
#[utoipa::path(
    patch,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The node's id")),
    request_body = NodePatchBody,
    responses(
        (status = 200, description = "The node as changed", body = NodeView),
        (status = 409, description = "The organisation has a node of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<NodeId>,
    ApiJson(body): ApiJson<NodePatchBody>,
) -> Result<Json<NodeView>, ApiError> {
    let mut errors = ValidationErrors::new();
    let name = body.name.as_deref().and_then(|name| errors.check("name", parse_name(name)));
    let status = body.status.as_deref().and_then(|status| errors.check("status", status.parse::<NodeStatus>()));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let patch = NodePatch { name, status };
    Ok(Json(app.watch.update_node(&caller.acting(context), id, &patch).await?.into()))
}

/// Delete a node: its key stops working; its events stay, without their node.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The node's id")),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
pub async fn delete(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<NodeId>,
) -> Result<StatusCode, ApiError> {
    app.watch.delete_node(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a node a new key, shown this once; the old key stops working at once.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{id}/rotate-key",
    tag = "nodes",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The node's id")),
    responses(
        (status = 200, description = "The node with its new key", body = NodeWithKey),
    )
)]
pub async fn rotate_key(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<NodeId>,
) -> Result<Json<NodeWithKey>, ApiError> {
    let (node, key) = app.watch.rotate_key(&caller.acting(context), id).await?;
    Ok(Json(NodeWithKey { node: node.into(), key }))
}

/// The decoys this node reported touched, most recent first.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{id}/decoys",
    tag = "nodes",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The node's id")),
    responses(
        (status = 200, description = "Its decoys", body = Vec<DecoyView>),
    )
)]
pub async fn decoys(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<NodeId>,
) -> Result<Json<Vec<DecoyView>>, ApiError> {
    let decoys = app.store.nodes().decoys(caller.org, id).await?;
    Ok(Json(decoys.into_iter().map(DecoyView::from).collect()))
}

/// Every node of the organisation, read page by page (the dashboards name them).
pub(crate) async fn all(app: &AppState, org: rampart_core::OrgId) -> Result<Vec<Node>, ApiError> {
    Ok(app.watch.all_nodes(org).await?)
}
