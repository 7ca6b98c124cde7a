-- Each deployment's own data, keyed by the deployment's id so that deleting the deployment row
-- deletes all of it in the same statement (nothing is ever half-deleted).
CREATE TABLE documents (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    table_name    TEXT NOT NULL,
    creation_time DOUBLE PRECISION NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (deployment_id, id)
);
CREATE INDEX documents_by_creation ON documents (deployment_id, table_name, creation_time, id);

CREATE TABLE deployment_tables (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    number        BIGINT NOT NULL,
    name          TEXT NOT NULL,
    PRIMARY KEY (deployment_id, number),
    UNIQUE (deployment_id, name)
);

CREATE TABLE modules (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    source        TEXT NOT NULL,
    js            TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (deployment_id, path)
);

CREATE TABLE env (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (deployment_id, name)
);
