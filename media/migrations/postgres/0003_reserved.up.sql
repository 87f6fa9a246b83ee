-- Placeholder: media 0003 belongs to another branch of issue 11. The lead
-- drops this pair when merging the real 0003 (migrations may not skip a
-- number, and this branch's 0004 needs a 3 before it).
SELECT 1;
