-- When each manifest was last pulled, and how often: what retention policies keep by (pulledWithin,
-- mostRecentlyPulledCount). Pulls are counted in memory and written in batches, off the request path.
ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT;
ALTER TABLE manifests ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
