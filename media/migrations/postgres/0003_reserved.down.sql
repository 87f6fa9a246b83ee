-- Placeholder for another branch's media 0003; see the .up.sql.
SELECT 1;
