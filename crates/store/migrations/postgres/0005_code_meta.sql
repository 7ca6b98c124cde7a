-- What a push learned about its code (the functions it exports, as JSON), stored with the code so
-- that listing functions or resolving `/api/run` never loads the modules again.
CREATE TABLE code_meta (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (deployment_id, key)
);
