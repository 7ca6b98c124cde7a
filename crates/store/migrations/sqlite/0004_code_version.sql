-- Bumped on every push, so that every server sees new code on its next call.
ALTER TABLE deployments ADD COLUMN code_version INTEGER NOT NULL DEFAULT 0;
