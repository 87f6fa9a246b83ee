-- Fast start: a clip becomes playable from one quick rendition (its own
-- streams copied, or a small preview encode) and its full ladder follows.
-- start_path is how it became playable ('copy', 'preview'; '' when the
-- ladder came first), ladder_state 'pending' while the ladder is queued or
-- being encoded ('' when done or not needed, 'retrying' after a failed
-- attempt), ladder_progress its percentage.
ALTER TABLE clips ADD COLUMN start_path TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN ladder_state TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN ladder_progress DOUBLE PRECISION NOT NULL DEFAULT 0;
