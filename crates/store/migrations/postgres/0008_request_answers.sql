-- The answers of socket mutations, written in the mutation's own transaction: a client that
-- reconnects (to any server) and sends a mutation again gets its answer instead of a second run.
-- Kept a day (each write forgets the older ones).
CREATE TABLE request_answers (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    session       TEXT NOT NULL,
    request       BIGINT NOT NULL,
    answer        TEXT NOT NULL,
    at            DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (deployment_id, session, request)
);
CREATE INDEX request_answers_by_age ON request_answers (deployment_id, at);
