-- Deploy keys: deployment keys (deployment_id set) and preview deploy keys (deployment_id NULL).
-- Only the SHA-256 of the secret is kept. Keys die with their deployment or project.
CREATE TABLE deploy_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    deployment_id INTEGER REFERENCES deployments(id) ON DELETE CASCADE,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id       INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL UNIQUE,
    creator       TEXT NOT NULL,
    create_time   INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used     INTEGER
);
CREATE UNIQUE INDEX deploy_keys_deployment_name ON deploy_keys (deployment_id, name) WHERE kind = 'deployment';
CREATE UNIQUE INDEX deploy_keys_preview_name ON deploy_keys (project_id, name) WHERE kind = 'preview';
