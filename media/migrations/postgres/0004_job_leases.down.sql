DROP INDEX clips_lease;
ALTER TABLE clips DROP COLUMN notice;
ALTER TABLE clips DROP COLUMN lease_losses;
ALTER TABLE clips DROP COLUMN lease_job;
ALTER TABLE clips DROP COLUMN lease_until;
ALTER TABLE clips DROP COLUMN lease_owner;
