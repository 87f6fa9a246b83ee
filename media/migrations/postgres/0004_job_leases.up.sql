-- A processing job holds a lease on its clip and renews it while it runs,
-- so a job whose worker died is noticed within a minute (the lease runs out)
-- instead of after River's rescue window (hours). lease_owner is the token
-- of the attempt that holds it ('' when none, 'handoff' while a retry is
-- queued), lease_until when it runs out (Unix ms), lease_job the River job
-- of the holder (cancelled when the lease is taken over), lease_losses how
-- often a worker died on this clip, and notice what a person sees meanwhile.
ALTER TABLE clips ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN lease_job BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN lease_losses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN notice TEXT NOT NULL DEFAULT '';
CREATE INDEX clips_lease ON clips (lease_until) WHERE lease_owner <> '';
