DROP TABLE clip_redactions;
