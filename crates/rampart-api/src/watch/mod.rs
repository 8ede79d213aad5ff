//! Watch over HTTP: sensor nodes, ingestion (with the paths of the system Rampart replaces, and
//! of the honeypots people already run: OpenCanary, Cowrie), the
//! alerts the events raise (listed, or followed live), attacker profiles, the dashboard's
//! figures, and the replaced system's read paths.

pub mod alerts;
pub mod attackers;
pub mod dto;
pub mod honeypots;
pub mod ingest;
pub mod legacy;
pub mod live;
pub mod nodes;
pub mod stats;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// Nodes, alerts, attackers, the dashboard and the replaced system's read paths; ingestion has
/// its own router ([`ingest::router`]) for its body limit.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nodes::create, nodes::list))
        .routes(routes!(nodes::get, nodes::update, nodes::delete))
        .routes(routes!(nodes::rotate_key))
        .routes(routes!(nodes::decoys))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get, alerts::update))
        .routes(routes!(stats::recent))
        .routes(routes!(live::events))
        .routes(routes!(live::stream))
        .routes(routes!(attackers::list))
        .routes(routes!(attackers::get))
        .routes(routes!(stats::stats))
        .routes(routes!(legacy::stats))
        .routes(routes!(legacy::recent_attacks))
        .routes(routes!(legacy::alerts))
        .routes(routes!(legacy::attacker_profile))
}
