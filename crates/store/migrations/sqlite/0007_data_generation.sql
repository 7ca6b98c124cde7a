-- Which file holds a deployment's data: generation 0 is `<name>.sqlite3`, generation N is
-- `<name>.<N>.sqlite3`. A reset writes the next generation's file and switches this number in one
-- statement, so a crash leaves either the old data or the new, never half of each.
ALTER TABLE deployments ADD COLUMN data_generation INTEGER NOT NULL DEFAULT 0;
