-- Team-wide lifecycle rules: a maximum age for previews, evicting the least recently deployed
-- preview at the deployment limit, and a cap on each member's dev deployments.
ALTER TABLE teams ADD COLUMN max_preview_age_ms INTEGER;
ALTER TABLE teams ADD COLUMN evict_previews INTEGER NOT NULL DEFAULT 0;
ALTER TABLE teams ADD COLUMN max_dev_per_member INTEGER;
