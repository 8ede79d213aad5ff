//! The audit vocabulary: who did what to what, from where, and how it ended.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::words::words;
use crate::{ApiKeyId, AuditEventId, OrgId, UserId};

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// Nobody authenticated, such as a failed login.
    Anonymous,
    User(UserId),
    ApiKey(ApiKeyId),
    /// The server itself, such as the bootstrap of the first admin.
    System,
}

words!(
    /// Which kind of actor acted: the text stored beside its id.
    ActorKind { Anonymous => "anonymous", User => "user", ApiKey => "api_key", System => "system" }
);

impl Actor {
    pub fn kind(self) -> ActorKind {
        match self {
            Actor::Anonymous => ActorKind::Anonymous,
            Actor::User(_) => ActorKind::User,
            Actor::ApiKey(_) => ActorKind::ApiKey,
            Actor::System => ActorKind::System,
        }
    }

    /// The id stored beside the kind: the user's or the key's; none for the others.
    pub fn stored_id(self) -> Option<Uuid> {
        match self {
            Actor::User(id) => Some(id.as_uuid()),
            Actor::ApiKey(id) => Some(id.as_uuid()),
            Actor::Anonymous | Actor::System => None,
        }
    }

    /// The actor read back from its stored kind and id. A user or key without its id, or a kind
    /// this server does not know, reads as `Anonymous`: an actor is never invented.
    pub fn from_stored(kind: &str, id: Option<Uuid>) -> Actor {
        match (kind.parse(), id) {
            (Ok(ActorKind::User), Some(id)) => Actor::User(UserId::from_uuid(id)),
            (Ok(ActorKind::ApiKey), Some(id)) => Actor::ApiKey(ApiKeyId::from_uuid(id)),
            (Ok(ActorKind::System), _) => Actor::System,
            _ => Actor::Anonymous,
        }
    }
}

words!(
    /// How an audited action ended.
    Outcome {
        Success => "success",
        Failure => "failure",
        /// Refused by a rule: a role too low, a rate limit, a reused token.
        Denied => "denied",
    }
    else "must be success, failure or denied"
);

words!(
    /// Every action the audit log records.
    AuditAction {
        Register => "auth.register",
        Login => "auth.login",
        TokenExchange => "auth.token",
        Refresh => "auth.refresh",
        RefreshReuse => "auth.refresh_reuse",
        Logout => "auth.logout",
        SwitchOrg => "auth.switch_org",
        RateLimited => "auth.rate_limited",
        UserCreate => "user.create",
        UserUpdate => "user.update",
        UserDelete => "user.delete",
        OrgCreate => "org.create",
        OrgUpdate => "org.update",
        MemberAdd => "member.add",
        MemberUpdate => "member.update",
        MemberRemove => "member.remove",
        MemberLeave => "member.leave",
        InvitationCreate => "invitation.create",
        InvitationRevoke => "invitation.revoke",
        InvitationAccept => "invitation.accept",
        InvitationDecline => "invitation.decline",
        ApiKeyCreate => "api_key.create",
        ApiKeyDelete => "api_key.delete",
        TargetCreate => "target.create",
        TargetUpdate => "target.update",
        TargetDelete => "target.delete",
        TargetImport => "target.import",
        ScopeRefused => "scope.refused",
        ExecutionCreate => "execution.create",
        ExecutionCancel => "execution.cancel",
        ToolUpdate => "tool.update",
        NodeCreate => "node.create",
        NodeUpdate => "node.update",
        NodeDelete => "node.delete",
        NodeRotateKey => "node.rotate_key",
        NodeRefused => "node.refused",
        AlertUpdate => "alert.update",
        DecisionCreate => "decision.create",
        DecisionImport => "decision.import",
        DecisionDelete => "decision.delete",
        PolicyCreate => "policy.create",
        PolicyUpdate => "policy.update",
        PolicyDelete => "policy.delete",
        AllowlistAdd => "allowlist.add",
        AllowlistRemove => "allowlist.remove",
        BouncerCreate => "bouncer.create",
        BouncerDelete => "bouncer.delete",
        BouncerRefused => "bouncer.refused",
        FindingUpdate => "finding.update",
        SettingUpdate => "setting.update",
    }
    else "is not a known audit action"
);

/// Where a request came from, for the audit log and rate limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub ip: Option<std::net::IpAddr>,
    pub request_id: Option<String>,
}

/// Who is acting in which organisation, and from where.
#[derive(Clone, Debug)]
pub struct Acting {
    pub org: OrgId,
    pub actor: Actor,
    pub context: RequestContext,
}

impl Acting {
    /// The user acting, when a user is (not an API key or the system).
    pub fn user(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }

    /// A successful `action` by this actor, to be completed with a target and detail.
    pub fn event(&self, action: AuditAction) -> NewAuditEvent {
        NewAuditEvent::new(Some(self.org), self.actor, action, Outcome::Success, &self.context)
    }
}

impl NewAuditEvent {
    /// An event that happened in `org`, by `actor`, from the request `context`.
    pub fn new(
        org: Option<OrgId>,
        actor: Actor,
        action: AuditAction,
        outcome: Outcome,
        context: &RequestContext,
    ) -> Self {
        Self {
            org,
            actor,
            action,
            target: None,
            outcome,
            ip: context.ip.map(|ip| ip.to_string()),
            request_id: context.request_id.clone(),
            detail: None,
        }
    }

    /// An event of the server's own, outside any organisation and request.
    pub fn by_system(action: AuditAction, outcome: Outcome) -> Self {
        Self::new(None, Actor::System, action, outcome, &RequestContext::default())
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the explanation, cut to [`DETAIL_MAX`] characters (ending with `…` when cut): it may
    /// quote what a client sent, and one request must not store more than a line of audit. A NUL
    /// it quotes is written `\u{FFFD}`: PostgreSQL cannot store it in text.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.contains('\0') {
            detail = detail.replace('\0', "\u{FFFD}");
        }
        if let Some((cut, _)) = detail.char_indices().nth(DETAIL_MAX - 1)
            && detail.chars().count() > DETAIL_MAX
        {
            detail.truncate(cut);
            detail.push('…');
        }
        self.detail = Some(detail);
        self
    }
}

/// Most characters of an event's detail.
pub const DETAIL_MAX: usize = 2000;

/// An event to record. `org` is empty when no organisation is involved yet (a failed login).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub org: Option<OrgId>,
    pub actor: Actor,
    pub action: AuditAction,
    /// What was acted on, such as `user:0193…` or `api_key:0193…`.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// A short explanation, never a secret.
    pub detail: Option<String>,
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub event: NewAuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail_of(text: &str) -> String {
        let event = NewAuditEvent::by_system(AuditAction::ScopeRefused, Outcome::Denied);
        event.detail(text).detail.expect("a detail")
    }

    #[test]
    fn a_detail_is_cut_to_its_bound_on_a_character_boundary() {
        let exact = "é".repeat(DETAIL_MAX);
        assert_eq!(detail_of(&exact), exact, "a detail at the bound is kept whole");
        let long = detail_of(&"é".repeat(DETAIL_MAX * 100));
        assert_eq!(long.chars().count(), DETAIL_MAX);
        assert!(long.ends_with('…'), "a cut detail says so");
        assert_eq!(detail_of("short"), "short");
        assert_eq!(detail_of("a\0b"), "a\u{FFFD}b", "a NUL is never stored");
    }
}
