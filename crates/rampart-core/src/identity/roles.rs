//! Roles within an organisation, ordered by what they may do.

use crate::words::words;

words!(
    /// `Viewer < Analyst < Admin`: a role may do everything the roles below it may.
    #[derive(PartialOrd, Ord)]
    Role {
        /// Reads.
        Viewer => "viewer",
        /// Runs tools, handles findings and alerts.
        Analyst => "analyst",
        /// Manages members, keys, scope and nodes.
        Admin => "admin",
    }
    else "must be admin, analyst or viewer"
);

impl Role {
    /// True when this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Analyst) && Role::Analyst.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Analyst) && !Role::Analyst.allows(Role::Admin));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err() && "Admin".parse::<Role>().is_err());
    }
}
