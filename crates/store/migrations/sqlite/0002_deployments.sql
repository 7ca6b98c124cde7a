-- Deployments of a project. Settings columns hold per-deployment overrides; NULL means the
-- type's default. Names are recorded forever in deployment_names so that none is reused.
CREATE TABLE deployment_names (
    name TEXT PRIMARY KEY
);

CREATE TABLE deployments (
    id                           INTEGER PRIMARY KEY AUTOINCREMENT,
    name                         TEXT NOT NULL UNIQUE,
    project_id                   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id                      INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    type                         TEXT NOT NULL,
    reference                    TEXT NOT NULL,
    reference_lower              TEXT NOT NULL,
    region                       TEXT NOT NULL,
    creator                      TEXT NOT NULL,
    creator_user_id              INTEGER,
    is_default                   INTEGER NOT NULL DEFAULT 0,
    expires_at                   INTEGER,
    create_time                  INTEGER NOT NULL,
    last_deploy_time             INTEGER,
    preview_identifier           TEXT,
    editable_by                  TEXT,
    send_logs_to_client          INTEGER,
    send_error_details_to_client INTEGER,
    dashboard_edit_confirmation  INTEGER,
    UNIQUE (project_id, reference_lower)
);
CREATE INDEX deployments_by_team ON deployments (team_id, expires_at);
CREATE INDEX deployments_by_project ON deployments (project_id, id);
CREATE INDEX deployments_by_expiry ON deployments (expires_at) WHERE expires_at IS NOT NULL;
CREATE UNIQUE INDEX deployments_default_dev ON deployments (project_id, creator_user_id)
    WHERE is_default = 1 AND type = 'dev';
CREATE UNIQUE INDEX deployments_default_prod ON deployments (project_id)
    WHERE is_default = 1 AND type = 'prod';
