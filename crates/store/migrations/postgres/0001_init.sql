-- The control plane's metadata on PostgreSQL: the same tables as the SQLite migrations 0001-0005.
-- Identity columns never reuse ids.
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    server_admin BIGINT NOT NULL DEFAULT 0,
    create_time  BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    create_time BIGINT NOT NULL,
    expires_at  BIGINT,
    last_used   BIGINT
);

CREATE TABLE teams (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    plan                      TEXT NOT NULL,
    deployment_limit_override BIGINT,
    create_time               BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id     BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE projects (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    UNIQUE (team_id, slug)
);

CREATE TABLE project_admins (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT,
    time    BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_team ON audit_log (team_id, id);

CREATE TABLE deployment_names (
    name TEXT PRIMARY KEY
);

CREATE TABLE deployments (
    id                           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                         TEXT NOT NULL UNIQUE,
    project_id                   BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id                      BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    type                         TEXT NOT NULL,
    reference                    TEXT NOT NULL,
    reference_lower              TEXT NOT NULL,
    region                       TEXT NOT NULL,
    creator                      TEXT NOT NULL,
    creator_user_id              BIGINT,
    is_default                   BIGINT NOT NULL DEFAULT 0,
    expires_at                   BIGINT,
    create_time                  BIGINT NOT NULL,
    last_deploy_time             BIGINT,
    preview_identifier           TEXT,
    editable_by                  TEXT,
    send_logs_to_client          BIGINT,
    send_error_details_to_client BIGINT,
    dashboard_edit_confirmation  BIGINT,
    code_version                 BIGINT NOT NULL DEFAULT 0,
    UNIQUE (project_id, reference_lower)
);
CREATE INDEX deployments_by_team ON deployments (team_id, expires_at);
CREATE INDEX deployments_by_project ON deployments (project_id, id);
CREATE INDEX deployments_by_expiry ON deployments (expires_at) WHERE expires_at IS NOT NULL;
CREATE UNIQUE INDEX deployments_default_dev ON deployments (project_id, creator_user_id)
    WHERE is_default = 1 AND type = 'dev';
CREATE UNIQUE INDEX deployments_default_prod ON deployments (project_id)
    WHERE is_default = 1 AND type = 'prod';

CREATE TABLE deploy_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    deployment_id BIGINT REFERENCES deployments(id) ON DELETE CASCADE,
    project_id    BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id       BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL UNIQUE,
    creator       TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used     BIGINT
);
CREATE UNIQUE INDEX deploy_keys_deployment_name ON deploy_keys (deployment_id, name) WHERE kind = 'deployment';
CREATE UNIQUE INDEX deploy_keys_preview_name ON deploy_keys (project_id, name) WHERE kind = 'preview';

CREATE TABLE default_env (
    project_id      BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    deployment_type TEXT NOT NULL,
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (project_id, deployment_type, name)
);
