//! Typed identifiers: UUIDv7 newtypes, so a bare `Uuid` never crosses a crate boundary and an
//! organisation id can never be passed where another kind of id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id; UUIDv7 ids sort by creation time, which keeps indexes append-only.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organisation (tenant).
    OrgId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An organisation's API key.
    ApiKeyId
);
id_type!(
    /// A login session: the family of refresh tokens that rotate from one login.
    SessionId
);
id_type!(
    /// An invitation to join an organisation.
    InvitationId
);
id_type!(
    /// One access token, so that it can be revoked before it expires.
    TokenId
);
id_type!(
    /// One audit event.
    AuditEventId
);
id_type!(
    /// An authorised target.
    TargetId
);
id_type!(
    /// One tool run.
    ExecutionId
);
id_type!(
    /// A finding: one issue on one asset, tracked across the runs that see it.
    FindingId
);
id_type!(
    /// An asset of the inventory: a host, service, URL, domain or certificate runs have seen.
    AssetId
);
id_type!(
    /// A change between runs.
    ChangeEventId
);
id_type!(
    /// A decision: what firewalls do about an address or a network, until when.
    DecisionId
);
id_type!(
    /// An address or a network no decision may cover.
    AllowEntryId
);
id_type!(
    /// A firewall that pulls decisions.
    BouncerId
);
id_type!(
    /// A policy: decisions made on their own from alerts.
    PolicyId
);
id_type!(
    /// A sensor: a honeypot, an endpoint agent or a network monitor.
    NodeId
);
id_type!(
    /// One event a sensor reported.
    EventId
);
id_type!(
    /// An alert: the events of one source and attack type within a window.
    AlertId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_7_and_increase() {
        let first = OrgId::new();
        let second = OrgId::new();
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert!(second > first);
    }

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = OrgId::new();
        assert_eq!(id.to_string().parse::<OrgId>().expect("own text form parses"), id);
        assert!("not-a-uuid".parse::<OrgId>().is_err());
    }
}
