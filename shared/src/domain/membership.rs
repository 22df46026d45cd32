//! The membership rules in one place: who may invite whom, change whose role
//! and remove whom, and the invariant that an organization always keeps at
//! least one owner. Services enforce the owner count with a conditional write;
//! this module only decides.

use super::role::{Permission, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleViolation {
    /// The actor's role does not allow this.
    InsufficientRole,
    /// The change would leave the organization without an owner.
    LastOwner,
}

/// Whether `actor` may manage a member who holds (or would hold) `role`:
/// admins manage members and admins, only owners manage owners.
fn may_manage(actor: Role, role: Role) -> bool {
    if role == Role::Owner {
        actor.allows(Permission::ManageOwners)
    } else {
        actor.allows(Permission::ManageMembers)
    }
}

/// May `actor` change a member's role `from` → `to` while the organization has `owners` owners?
pub fn check_role_change(actor: Role, from: Role, to: Role, owners: i64) -> Result<(), RuleViolation> {
    if !may_manage(actor, from) || !may_manage(actor, to) {
        return Err(RuleViolation::InsufficientRole);
    }
    if from == Role::Owner && to != Role::Owner && owners <= 1 {
        return Err(RuleViolation::LastOwner);
    }
    Ok(())
}

/// May `actor` remove a member holding `target`? Removing yourself is leaving,
/// which anyone may do, except the last owner.
pub fn check_removal(actor: Role, is_self: bool, target: Role, owners: i64) -> Result<(), RuleViolation> {
    if !is_self && !may_manage(actor, target) {
        return Err(RuleViolation::InsufficientRole);
    }
    if target == Role::Owner && owners <= 1 {
        return Err(RuleViolation::LastOwner);
    }
    Ok(())
}

/// May `inviter` invite someone as `role`? Only up to the inviter's own role,
/// and only those who manage members invite at all.
pub fn check_invitation(inviter: Role, role: Role) -> Result<(), RuleViolation> {
    if !inviter.allows(Permission::ManageMembers) || role > inviter || !may_manage(inviter, role) {
        return Err(RuleViolation::InsufficientRole);
    }
    Ok(())
}

/// May `actor` revoke or list invitations?
pub fn check_manage_invitations(actor: Role) -> Result<(), RuleViolation> {
    if actor.allows(Permission::ManageMembers) {
        Ok(())
    } else {
        Err(RuleViolation::InsufficientRole)
    }
}

/// How the owner count moves when a member goes from `from` to `to` (None = removed).
pub fn owner_delta(from: Role, to: Option<Role>) -> i64 {
    i64::from(to == Some(Role::Owner)) - i64::from(from == Role::Owner)
}

#[cfg(test)]
mod tests {
    use super::Role::*;
    use super::RuleViolation::*;
    use super::*;

    #[test]
    fn members_manage_nobody() {
        for (from, to) in [(Member, Admin), (Admin, Member), (Member, Member)] {
            assert_eq!(check_role_change(Member, from, to, 2), Err(InsufficientRole));
        }
        assert_eq!(check_removal(Member, false, Member, 1), Err(InsufficientRole));
        assert_eq!(check_invitation(Member, Member), Err(InsufficientRole));
    }

    #[test]
    fn admins_manage_members_and_admins_but_not_owners() {
        assert_eq!(check_role_change(Admin, Member, Admin, 1), Ok(()));
        assert_eq!(check_role_change(Admin, Admin, Member, 1), Ok(()));
        assert_eq!(check_role_change(Admin, Member, Owner, 1), Err(InsufficientRole));
        assert_eq!(check_role_change(Admin, Owner, Member, 3), Err(InsufficientRole));
        assert_eq!(check_removal(Admin, false, Admin, 1), Ok(()));
        assert_eq!(check_removal(Admin, false, Owner, 3), Err(InsufficientRole));
        assert_eq!(check_invitation(Admin, Admin), Ok(()));
        assert_eq!(check_invitation(Admin, Owner), Err(InsufficientRole));
    }

    #[test]
    fn owners_make_and_unmake_owners_but_never_the_last_one() {
        assert_eq!(check_role_change(Owner, Admin, Owner, 1), Ok(()));
        assert_eq!(check_role_change(Owner, Owner, Admin, 2), Ok(()));
        assert_eq!(check_role_change(Owner, Owner, Admin, 1), Err(LastOwner));
        assert_eq!(check_removal(Owner, true, Owner, 1), Err(LastOwner));
        assert_eq!(check_removal(Owner, true, Owner, 2), Ok(()));
        assert_eq!(check_invitation(Owner, Owner), Ok(()));
    }

    #[test]
    fn anyone_may_leave() {
        assert_eq!(check_removal(Member, true, Member, 1), Ok(()));
        assert_eq!(check_removal(Admin, true, Admin, 1), Ok(()));
    }

    #[test]
    fn owner_count_moves_with_owner_role_only() {
        assert_eq!(owner_delta(Owner, Some(Admin)), -1);
        assert_eq!(owner_delta(Admin, Some(Owner)), 1);
        assert_eq!(owner_delta(Owner, None), -1);
        assert_eq!(owner_delta(Member, None), 0);
        assert_eq!(owner_delta(Owner, Some(Owner)), 0);
    }
}
