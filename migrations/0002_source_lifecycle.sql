-- Daemon state of a source (issue 3).
-- config_hash: the config entry the row was last synced from; a 410 keeps the source
--   disabled until this changes. disabled_reason: why the crawler (not the operator)
--   disabled it. poll_interval_secs: the interval last derived by the adaptive scheduler,
--   so a restart resumes it.
ALTER TABLE sources ADD COLUMN config_hash TEXT;
ALTER TABLE sources ADD COLUMN disabled_reason TEXT;
ALTER TABLE sources ADD COLUMN poll_interval_secs INTEGER;
