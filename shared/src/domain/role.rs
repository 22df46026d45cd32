//! Roles and the permission matrix: the one place that says who may do what.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Everyday CRM work: contacts, notes, deals, bookings, forms.
    UseCrm,
    /// Organization settings (name, slug, time zone) and integrations.
    ManageSettings,
    ManageIntegrations,
    /// Invite, change roles of and remove members (not owners).
    ManageMembers,
    ReadAuditLog,
    /// Billing and subscription.
    ManageBilling,
    /// Make or unmake owners, transfer ownership.
    ManageOwners,
    DeleteOrganization,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            UseCrm => true,
            ManageSettings | ManageIntegrations | ManageMembers | ReadAuditLog => self >= Role::Admin,
            ManageBilling | ManageOwners | DeleteOrganization => self == Role::Owner,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn members_do_crm_work_only() {
        assert!(Role::Member.allows(UseCrm));
        for p in [
            ManageSettings,
            ManageIntegrations,
            ManageMembers,
            ReadAuditLog,
            ManageBilling,
            ManageOwners,
            DeleteOrganization,
        ] {
            assert!(!Role::Member.allows(p), "{p:?}");
        }
    }

    #[test]
    fn admins_manage_the_org_but_not_billing_or_ownership() {
        for p in [UseCrm, ManageSettings, ManageIntegrations, ManageMembers, ReadAuditLog] {
            assert!(Role::Admin.allows(p), "{p:?}");
        }
        for p in [ManageBilling, ManageOwners, DeleteOrganization] {
            assert!(!Role::Admin.allows(p), "{p:?}");
        }
    }

    #[test]
    fn owners_may_do_everything() {
        for p in [
            UseCrm,
            ManageSettings,
            ManageIntegrations,
            ManageMembers,
            ReadAuditLog,
            ManageBilling,
            ManageOwners,
            DeleteOrganization,
        ] {
            assert!(Role::Owner.allows(p), "{p:?}");
        }
    }
}
