DROP INDEX annotations_clip_private;
ALTER TABLE annotations DROP COLUMN body_html;
