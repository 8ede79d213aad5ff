//! Registration, login, refresh, logout and switching organisation: everything that opens, turns
//! over or ends a session, each with its audit event.

use rampart_core::identity::{Actor, AuditAction, Membership, NewAuditEvent, NewUser, Outcome, Role, User};
use rampart_core::orgs::Organisation;
use rampart_core::{OrgId, SessionId, TokenId, UserId};
use rampart_store::{Effects, Rotation};

use crate::tokens::{ACCESS, AccessClaims, SubjectKind};
use crate::{Identity, IdentityError, Principal, RequestContext, audited, opaque};

/// What a successful login, refresh or switch hands back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    /// Absent for a `client_credentials` exchange: an API key has no session to refresh.
    pub refresh_token: Option<String>,
    pub org: OrgId,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub struct Registration {
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub password: String,
    /// The personal organisation's name; the username when absent.
    pub org_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LoginRequest {
    /// An email address or a username.
    pub login: String,
    pub password: String,
    /// The organisation to work in, by id or slug; the oldest membership when absent.
    pub org: Option<String>,
}

fn event(org: Option<OrgId>, actor: Actor, action: AuditAction, outcome: Outcome) -> NewAuditEvent {
    NewAuditEvent { org, actor, action, target: None, outcome, ip: None, request_id: None, detail: None }
}

impl Identity {
    /// Counts an attempt against the limits of the client's address and, when given, of
    /// `account`; over them, the refusal is audited.
    async fn limit(&self, context: &RequestContext, account: Option<&str>) -> Result<(), IdentityError> {
        self.refuse_over_limit(context, self.rate.check(context.ip, account)).await
    }

    /// Counts an attempt against the limit of `account` alone.
    async fn limit_account(&self, context: &RequestContext, account: &str) -> Result<(), IdentityError> {
        self.refuse_over_limit(context, self.rate.check(None, Some(account))).await
    }

    async fn refuse_over_limit(
        &self,
        context: &RequestContext,
        checked: Result<(), std::time::Duration>,
    ) -> Result<(), IdentityError> {
        if let Err(retry_after) = checked {
            let mut refused = event(None, Actor::Anonymous, AuditAction::RateLimited, Outcome::Denied);
            refused.detail = Some("too many authentication attempts".into());
            self.audit(context, refused).await?;
            return Err(IdentityError::RateLimited { retry_after });
        }
        Ok(())
    }

    pub async fn register(
        &self,
        registration: Registration,
        context: &RequestContext,
    ) -> Result<(User, Organisation, TokenPair), IdentityError> {
        if !self.config.registration_open() {
            return Err(IdentityError::Forbidden("registration is closed on this server; ask an administrator".into()));
        }
        self.limit(context, Some(&registration.email)).await?;
        let new = NewUser::parse(
            &registration.email,
            &registration.username,
            &registration.full_name,
            &registration.password,
        )?;
        let audit = |(user, org): &(User, Organisation)| {
            let mut registered = event(Some(org.id), Actor::User(user.id), AuditAction::Register, Outcome::Success);
            registered.target = Some(format!("user:{}", user.id));
            audited(context, registered)
        };
        let org_name = registration.org_name.as_deref();
        let (user, org) = self.create_account_with(&new, &registration.password, org_name, &audit).await?;
        let tokens = self.start_session(user.id, org.id, Role::Admin, &Effects::none()).await?;
        Ok((user, org, tokens))
    }

    pub async fn login(&self, request: LoginRequest, context: &RequestContext) -> Result<TokenPair, IdentityError> {
        self.limit(context, None).await?;
        let found = self.store.users().find_for_login(&request.login).await?;
        // The account's limit is the account's, however it was spelled (email or username).
        let account = match &found {
            Some((user, _)) => format!("user:{}", user.id),
            None => format!("login:{}", request.login.trim().to_lowercase()),
        };
        self.limit_account(context, &account).await?;
        let matches = self.passwords.verify(&request.password, found.as_ref().map(|(_, hash)| hash.as_str())).await?;
        let (user, _) = match found {
            Some(found) if matches && found.0.is_active => found,
            found => {
                let actor = found.as_ref().map_or(Actor::Anonymous, |(user, _)| Actor::User(user.id));
                let mut failed = event(None, actor, AuditAction::Login, Outcome::Failure);
                failed.detail = Some(
                    match found {
                        None => "unknown account",
                        Some(_) if !matches => "wrong password",
                        Some(_) => "inactive account",
                    }
                    .into(),
                );
                self.audit(context, failed).await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        let memberships = self.store.users().memberships(user.id).await?;
        let membership = choose(&memberships, request.org.as_deref())?;
        let audit = audited(
            context,
            event(Some(membership.org_id), Actor::User(user.id), AuditAction::Login, Outcome::Success),
        );
        self.start_session(user.id, membership.org_id, membership.role, &audit).await
    }

    pub async fn refresh(&self, refresh_token: &str, context: &RequestContext) -> Result<TokenPair, IdentityError> {
        const INVALID: &str = "the refresh token is invalid, expired or already used";
        let (next, next_hash) = opaque::new_refresh_token();
        let expires = self.refresh_expiry();
        match self.store.sessions().rotate(&opaque::hash(refresh_token), &next_hash, expires).await? {
            Rotation::Rotated { session, user, org } => {
                let state = self.store.sessions().access_state(user, org, session).await?;
                match state {
                    Some(state) if state.is_active && state.role.is_some() => {
                        let role = state.role.expect("checked above");
                        let mut pair = self.access_pair(user, org, role, session);
                        pair.refresh_token = Some(next);
                        Ok(pair)
                    }
                    _ => {
                        self.store.sessions().revoke(session, &Effects::none()).await?;
                        Err(IdentityError::Unauthenticated(INVALID))
                    }
                }
            }
            Rotation::Reused { user, org, session } => {
                let mut reused = event(Some(org), Actor::User(user), AuditAction::RefreshReuse, Outcome::Denied);
                reused.target = Some(format!("session:{session}"));
                reused.detail = Some("a used refresh token was presented again; the session is revoked".into());
                self.audit(context, reused).await?;
                Err(IdentityError::Unauthenticated(INVALID))
            }
            Rotation::Invalid => Err(IdentityError::Unauthenticated(INVALID)),
        }
    }

    /// Ends the caller's session: its refresh token and every access token of it stop working.
    pub async fn logout(&self, principal: &Principal, context: &RequestContext) -> Result<(), IdentityError> {
        let mut out = event(Some(principal.org), principal.actor, AuditAction::Logout, Outcome::Success);
        out.target = principal.session.map(|session| format!("session:{session}"));
        match principal.session {
            Some(session) => Ok(self.store.sessions().revoke(session, &audited(context, out)).await?),
            // A token of an API key has no session: nothing changes, and the logout is audited.
            None => self.audit(context, out).await,
        }
    }

    /// Moves the caller's session to another organisation they belong to.
    pub async fn switch_org(
        &self,
        principal: &Principal,
        org: &str,
        context: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let user = principal
            .user_id()
            .ok_or_else(|| IdentityError::Forbidden("only a user can switch organisation".into()))?;
        let memberships = self.store.users().memberships(user).await?;
        let membership = choose(&memberships, Some(org))?;
        if let Some(session) = principal.session {
            self.store.sessions().revoke(session, &Effects::none()).await?;
        }
        let mut switched = event(Some(membership.org_id), principal.actor, AuditAction::SwitchOrg, Outcome::Success);
        switched.detail = Some(format!("from organisation {}", principal.org));
        self.start_session(user, membership.org_id, membership.role, &audited(context, switched)).await
    }

    /// OAuth2 `client_credentials`: an API key exchanged for a short-lived access token.
    pub async fn exchange_api_key(&self, key: &str, context: &RequestContext) -> Result<TokenPair, IdentityError> {
        self.limit(context, None).await?;
        let principal = match self.authenticate_api_key(key).await {
            Ok(principal) => principal,
            Err(IdentityError::Unauthenticated(_)) => {
                let mut failed = event(None, Actor::Anonymous, AuditAction::TokenExchange, Outcome::Failure);
                failed.detail = Some("invalid API key".into());
                self.audit(context, failed).await?;
                return Err(IdentityError::InvalidCredentials);
            }
            Err(other) => return Err(other),
        };
        let Actor::ApiKey(id) = principal.actor else { unreachable!("an API key authenticates as an API key") };
        self.audit(context, event(Some(principal.org), principal.actor, AuditAction::TokenExchange, Outcome::Success))
            .await?;
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: id.as_uuid(),
            act: SubjectKind::ApiKey,
            org: principal.org.as_uuid(),
            role: principal.role.as_str().into(),
            jti: TokenId::new().as_uuid(),
            sid: None,
            typ: ACCESS.into(),
            iat: now,
            exp: now + self.access_ttl_seconds(),
        };
        Ok(TokenPair {
            access_token: self.tokens.issue(&claims),
            expires_in: self.config.access_token_ttl.as_secs(),
            refresh_token: None,
            org: principal.org,
            role: principal.role,
        })
    }

    /// Opens a session, writing `effects` (the event of the login) with it.
    async fn start_session(
        &self,
        user: UserId,
        org: OrgId,
        role: Role,
        effects: &Effects,
    ) -> Result<TokenPair, IdentityError> {
        let (refresh, refresh_hash) = opaque::new_refresh_token();
        let session = self.store.sessions().start(org, user, &refresh_hash, self.refresh_expiry(), effects).await?;
        let mut pair = self.access_pair(user, org, role, session);
        pair.refresh_token = Some(refresh);
        Ok(pair)
    }

    fn access_pair(&self, user: UserId, org: OrgId, role: Role, session: SessionId) -> TokenPair {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user.as_uuid(),
            act: SubjectKind::User,
            org: org.as_uuid(),
            role: role.as_str().into(),
            jti: TokenId::new().as_uuid(),
            sid: Some(session.as_uuid()),
            typ: ACCESS.into(),
            iat: now,
            exp: now + self.access_ttl_seconds(),
        };
        TokenPair {
            access_token: self.tokens.issue(&claims),
            expires_in: self.config.access_token_ttl.as_secs(),
            refresh_token: None,
            org,
            role,
        }
    }

    fn access_ttl_seconds(&self) -> i64 {
        i64::try_from(self.config.access_token_ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    fn refresh_expiry(&self) -> chrono::DateTime<chrono::Utc> {
        let ttl = chrono::Duration::from_std(self.config.refresh_token_ttl).unwrap_or(chrono::Duration::days(30));
        rampart_core::time::now() + ttl
    }
}

/// The membership named by id or slug, or the oldest one.
fn choose<'m>(memberships: &'m [Membership], wanted: Option<&str>) -> Result<&'m Membership, IdentityError> {
    let found = match wanted {
        Some(wanted) => memberships.iter().find(|m| m.org_id.to_string() == wanted || m.org_slug.as_str() == wanted),
        None => memberships.first(),
    };
    found.ok_or_else(|| match wanted {
        Some(_) => IdentityError::Forbidden("you are not a member of that organisation".into()),
        None => IdentityError::Forbidden("you are not a member of any organisation".into()),
    })
}
