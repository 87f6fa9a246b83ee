-- body_html is the body rendered by RenderBody when it was written, so a
-- page of 200 annotations no longer renders 200 Markdown bodies per read.
-- NULL means "not rendered yet" (rows written before this migration, until
-- Service.BackfillBodyHTML has run); readers render those on the fly. A
-- change to RenderBody's output must come with a migration that sets the
-- column back to NULL.
ALTER TABLE annotations ADD COLUMN body_html TEXT;
-- Who has private notes on a clip decides whether a viewer's list and
-- summary equal the shared audience-only view (see viewScope); this keeps
-- that question an index lookup however many annotations the clip has.
CREATE INDEX annotations_clip_private ON annotations (clip_id, author_id) WHERE visibility = 'private' AND deleted_at IS NULL;
