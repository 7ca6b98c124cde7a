-- Metadata of the control plane. AUTOINCREMENT keeps ids from ever being reused.
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL UNIQUE,
    server_admin INTEGER NOT NULL DEFAULT 0,
    create_time  INTEGER NOT NULL
);

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    create_time INTEGER NOT NULL,
    expires_at  INTEGER,
    last_used   INTEGER
);

CREATE TABLE teams (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    slug                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    plan                      TEXT NOT NULL,
    deployment_limit_override INTEGER,
    create_time               INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    UNIQUE (team_id, slug)
);

CREATE TABLE project_admins (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER,
    time    INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_team ON audit_log (team_id, id);
