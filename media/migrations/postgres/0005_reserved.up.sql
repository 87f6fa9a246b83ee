-- Reserved: the number the consent and retention work takes in the same
-- release. Migration numbers have no gaps, so this no-op holds the place
-- until that migration lands (then this file goes).
SELECT 1;
