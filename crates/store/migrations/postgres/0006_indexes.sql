-- Stored indexes: each deployment's schema indexes and their entries (key → document), kept in
-- the same transaction as the documents. Keys are byte strings ordered as the values they encode.
CREATE TABLE deployment_indexes (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    table_name    TEXT NOT NULL,
    fields        TEXT NOT NULL,
    PRIMARY KEY (deployment_id, name)
);

CREATE TABLE index_entries (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    index_name    TEXT NOT NULL,
    key           BYTEA NOT NULL,
    doc_id        TEXT NOT NULL,
    PRIMARY KEY (deployment_id, index_name, key)
);
