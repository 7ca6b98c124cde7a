-- Project default environment variables per deployment type, copied into each new deployment
-- of that type when it is created.
CREATE TABLE default_env (
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    deployment_type TEXT NOT NULL,
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (project_id, deployment_type, name)
);
