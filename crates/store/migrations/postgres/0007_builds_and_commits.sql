-- Documents changed or deleted while an index is being built ahead of a push: the build skips
-- them (the write kept their entries itself). Emptied when the build completes or a push commits.
CREATE TABLE ahead_dirty (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    index_name    TEXT NOT NULL,
    doc_id        TEXT NOT NULL,
    PRIMARY KEY (deployment_id, index_name, doc_id)
);

-- Each deployment's latest commit timestamp (nanoseconds since the epoch, growing): every write
-- transaction takes the next one under the deployment's write lock, so timestamps follow commit
-- order on every server, and announces it (NOTIFY berth_commits) for live queries.
CREATE TABLE deployment_clock (
    deployment_id BIGINT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
    ts            BIGINT NOT NULL
);
