//! Nodes as a service: changes with their audit events (in the change's transaction), keys shown
//! once, and the check of a sensor's key on every request it sends.

use rampart_core::NodeId;
use rampart_core::identity::{Acting, Actor, AuditAction, NewAuditEvent, Outcome, RequestContext};
use rampart_core::watch::{EventKind, NewNode, Node, NodeKind, NodeStatus};
use rampart_identity::opaque::{self, NODE_KEY_PREFIX};
use rampart_store::{Effects, NodePatch};

use crate::{Watch, WatchError};

/// Refused node keys a client address may send per minute; past it, 429 until its quota recovers.
pub(crate) const REFUSALS_PER_MINUTE: u32 = 60;

/// Why a sensor's request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeRefusal {
    /// No node has this key (401).
    #[error("unknown node key")]
    Unknown,
    /// The key is another node's than the one the request names (403).
    #[error("this key belongs to another node")]
    OtherNode,
    /// The node was switched off (403).
    #[error("this node is inactive")]
    Inactive,
}

/// The kind of event a node reports when the event names none.
pub(crate) fn default_kind(kind: NodeKind) -> Option<EventKind> {
    match kind {
        NodeKind::Honeypot => Some(EventKind::Honeypot),
        NodeKind::Agent => Some(EventKind::Agent),
        NodeKind::Network => None,
    }
}

impl Watch {
    /// Creates a node; answers it with its key, which is never shown again.
    pub async fn create_node(&self, acting: &Acting, new: &NewNode) -> Result<(Node, String), WatchError> {
        let (key, prefix, hash) = opaque::new_key(NODE_KEY_PREFIX);
        let audit =
            |node: &Node| audit(acting, AuditAction::NodeCreate, node.id, format!("{} {}", node.kind, node.name));
        let node = self.store().nodes().insert(acting.org, new, &prefix, &hash, &audit).await?;
        Ok((node, key))
    }

    /// Creates a node with the key it had in the replaced system (already checked to be of that
    /// form), so its deployed sensors keep working: the key is hashed here, as it arrives, and
    /// stored as every key is. Answers the node with that key.
    pub async fn import_node(&self, acting: &Acting, new: &NewNode, key: &str) -> Result<(Node, String), WatchError> {
        let prefix = opaque::node_key_lookup(key)
            .ok_or_else(|| WatchError::Invalid(rampart_core::ValidationErrors::single("key", "is not a node key")))?;
        let hash = opaque::hash(key);
        let audit = |node: &Node| {
            let legacy = node.legacy_id.as_deref().map(|id| format!(", legacy id {id}")).unwrap_or_default();
            audit(
                acting,
                AuditAction::NodeCreate,
                node.id,
                format!("{} {} with an imported key{legacy}", node.kind, node.name),
            )
        };
        let node = self.store().nodes().insert(acting.org, new, &prefix, &hash, &audit).await?;
        Ok((node, key.to_owned()))
    }

    pub async fn update_node(&self, acting: &Acting, id: NodeId, patch: &NodePatch) -> Result<Node, WatchError> {
        let mut changed = Vec::new();
        if let Some(name) = &patch.name {
            changed.push(format!("name {name}"));
        }
        if let Some(status) = patch.status {
            changed.push(format!("status {status}"));
        }
        let audit = audit(acting, AuditAction::NodeUpdate, id, changed.join(", "));
        Ok(self.store().nodes().update(acting.org, id, patch, &audit).await?)
    }

    pub async fn delete_node(&self, acting: &Acting, id: NodeId) -> Result<(), WatchError> {
        let audit = audit(acting, AuditAction::NodeDelete, id, String::new());
        Ok(self.store().nodes().delete(acting.org, id, &audit).await?)
    }

    /// Gives a node a new key; the old one stops working at once.
    pub async fn rotate_key(&self, acting: &Acting, id: NodeId) -> Result<(Node, String), WatchError> {
        let (key, prefix, hash) = opaque::new_key(NODE_KEY_PREFIX);
        let audit = audit(acting, AuditAction::NodeRotateKey, id, String::new());
        let node = self.store().nodes().rotate_key(acting.org, id, &prefix, &hash, &audit).await?;
        Ok((node, key))
    }

    /// The node a sensor's key belongs to, from the key alone (so that it is checked before the
    /// request's body is read). Every refusal is audited (in the key's organisation when it is
    /// known), until the client's address has been refused more than 60 times in a minute: then
    /// it is told to wait, and nothing more is written for it.
    pub async fn authenticate(&self, key: &str, context: &RequestContext) -> Result<Node, WatchError> {
        let found = match opaque::node_key_lookup(key) {
            Some(prefix) => self.store().nodes().find_by_key(&prefix).await?,
            None => None,
        };
        match found {
            Some((node, hash)) if opaque::matches(key, &hash) => {
                if node.status == NodeStatus::Inactive {
                    Err(self.refuse(Some(&node), NodeRefusal::Inactive, context).await)
                } else {
                    Ok(node)
                }
            }
            _ => Err(self.refuse(None, NodeRefusal::Unknown, context).await),
        }
    }

    /// Checks that the node a request names — by its id, or by the id it had in the replaced
    /// system — is the one its key belongs to; another node is refused, audited and limited as
    /// every refusal is.
    pub async fn check_claim(&self, node: &Node, claimed: &str, context: &RequestContext) -> Result<(), WatchError> {
        let by_id = claimed.parse::<NodeId>().is_ok_and(|id| id == node.id);
        let by_legacy_id = node.legacy_id.as_deref() == Some(claimed);
        if by_id || by_legacy_id {
            return Ok(());
        }
        Err(self.refuse(Some(node), NodeRefusal::OtherNode, context).await)
    }

    /// Audits a refusal and answers it, or answers "wait" once the address is past its limit.
    async fn refuse(&self, node: Option<&Node>, why: NodeRefusal, context: &RequestContext) -> WatchError {
        if let Err(retry_after) = self.inner.refusals.check(context.ip, None) {
            return WatchError::RateLimited { retry_after };
        }
        let mut event = NewAuditEvent::new(
            node.map(|node| node.org_id),
            Actor::Anonymous,
            AuditAction::NodeRefused,
            Outcome::Denied,
            context,
        )
        .detail(why.to_string());
        if let Some(node) = node {
            event = event.target(format!("node:{}", node.id));
        }
        match self.store().audit().append(&event).await {
            Ok(_) => WatchError::Refused(why),
            Err(error) => error.into(),
        }
    }
}

/// A node change's audit event, written with the change.
fn audit(acting: &Acting, action: AuditAction, id: NodeId, detail: String) -> Effects {
    let mut event = acting.event(action).target(format!("node:{id}"));
    if !detail.is_empty() {
        event = event.detail(detail);
    }
    Effects::audit(event)
}
