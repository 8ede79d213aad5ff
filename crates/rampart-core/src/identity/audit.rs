//! The audit vocabulary: who did what to what, from where, and how it ended.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

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

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::Anonymous => "anonymous",
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::System => "system",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failure,
    /// Refused by a rule: a role too low, a rate limit, a reused token.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| "must be success, failure or denied".into())
    }
}

macro_rules! actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every action the audit log records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
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
    SettingUpdate => "setting.update",
}

impl FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL.iter().copied().find(|a| a.as_str() == s).ok_or_else(|| "is not a known audit action".into())
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
        let event = NewAuditEvent::new(
            None,
            Actor::System,
            AuditAction::ScopeRefused,
            Outcome::Denied,
            &RequestContext::default(),
        );
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
