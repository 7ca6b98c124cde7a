//! Members of a team: add (creating the person with a fresh token), list, remove.

use crate::{Control, Principal, authz::project_not_found, internal};
use berth_api::{AddMemberRequest, AddMemberResponse, Member};
use berth_model::{Error, Role, token};
use berth_store::{AddMember, MemberRecord, StoreError};

fn member_view(m: MemberRecord) -> Member {
    Member {
        username: m.username,
        role: m.role,
        project_admin_of: m.project_admin_of,
        create_time: m.create_time,
    }
}

/// Usernames: like slugs, but 1 to 64 characters so that short names (`bo`) work.
fn validate_username(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "InvalidUsername",
            format!(
                "invalid username '{name}': use 1 to 64 lowercase letters, digits, '-', '_' or '.', not starting with '-' or '.'"
            ),
        ))
    }
}

impl Control {
    pub async fn list_members(&self, p: &Principal, team: &str) -> Result<Vec<Member>, Error> {
        let access = self.team_access(p, team).await?;
        let members = self
            .store
            .list_members(access.team.id)
            .await
            .map_err(internal("list members"))?;
        Ok(members.into_iter().map(member_view).collect())
    }

    /// Adds `username` to the team (or changes their role). A person new to the server is
    /// created with an access token, returned here once.
    pub async fn add_member(
        &self,
        p: &Principal,
        team: &str,
        req: AddMemberRequest,
    ) -> Result<AddMemberResponse, Error> {
        let access = self.team_access(p, team).await?;
        access.require_admin("add members")?;
        validate_username(&req.username)?;
        let mut project_ids = Vec::new();
        for slug in &req.project_admin_of {
            let project = self
                .store
                .project_by_slug(access.team.id, slug)
                .await
                .map_err(internal("look up project"))?
                .ok_or_else(|| project_not_found(&format!("{}:{slug}", access.team.slug)))?;
            project_ids.push(project.id);
        }
        if req.role == Some(Role::Member) {
            let members = self
                .store
                .list_members(access.team.id)
                .await
                .map_err(internal("list members"))?;
            let admins: Vec<_> = members.iter().filter(|m| m.role == Role::Admin).collect();
            if admins.len() == 1 && admins[0].username == req.username {
                return Err(Error::conflict(
                    "LastAdmin",
                    format!(
                        "'{}' is the last admin of team '{}'; make another member admin before demoting them",
                        req.username, access.team.slug
                    ),
                ));
            }
        }
        let token = token::new_access_token();
        let (member, created) = self
            .store
            .add_member(&AddMember {
                team_id: access.team.id,
                username: req.username.clone(),
                role: req.role,
                new_token_hash: token::hash(token.expose()),
                project_admin_of: project_ids,
                now: self.now(),
            })
            .await
            .map_err(|e| match e {
                StoreError::LastAdmin => last_admin(&req.username, &access.team.slug),
                e => internal("add member")(e),
            })?;
        self.audit(
            Some(access.team.id),
            p,
            "add_member",
            &req.username,
            serde_json::json!({"role": req.role, "projectAdminOf": req.project_admin_of, "newUser": created}),
        )
        .await?;
        Ok(AddMemberResponse {
            member: member_view(member),
            access_token: created.then(|| token.expose().to_string()),
        })
    }

    /// Removes a member from the team. The last admin cannot be removed.
    pub async fn remove_member(
        &self,
        p: &Principal,
        team: &str,
        username: &str,
    ) -> Result<(), Error> {
        let access = self.team_access(p, team).await?;
        access.require_admin("remove members")?;
        let members = self
            .store
            .list_members(access.team.id)
            .await
            .map_err(internal("list members"))?;
        let Some(target) = members.iter().find(|m| m.username == username) else {
            return Err(Error::not_found(
                "MemberNotFound",
                format!(
                    "'{username}' is not a member of team '{}'; `berth member list` shows who is",
                    access.team.slug
                ),
            ));
        };
        let admins = members.iter().filter(|m| m.role == Role::Admin).count();
        if target.role == Role::Admin && admins == 1 {
            return Err(Error::conflict(
                "LastAdmin",
                format!(
                    "'{username}' is the last admin of team '{}'; make another member admin first",
                    access.team.slug
                ),
            ));
        }
        self.store
            .remove_member(access.team.id, target.user_id)
            .await
            .map_err(|e| match e {
                StoreError::LastAdmin => last_admin(username, &access.team.slug),
                e => internal("remove member")(e),
            })?;
        self.audit(
            Some(access.team.id),
            p,
            "remove_member",
            username,
            serde_json::json!({}),
        )
        .await
    }
}

/// The refusal of a change that would leave the team without an admin.
fn last_admin(username: &str, team: &str) -> Error {
    Error::conflict(
        "LastAdmin",
        format!("'{username}' is the last admin of team '{team}'; make another member admin first"),
    )
}

#[cfg(test)]
mod tests {
    use super::validate_username;

    #[test]
    fn usernames() {
        for ok in ["bo", "james", "ci-bot_2", "a.b"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "James", "-x", ".x", "a b", &"a".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }
}
