-- Deployment logs, shared by every server; trimmed to the newest lines per deployment.
CREATE TABLE logs (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    time          BIGINT NOT NULL,
    level         TEXT NOT NULL,
    function      TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    text          TEXT NOT NULL
);
CREATE INDEX logs_by_deployment ON logs (deployment_id, seq);
