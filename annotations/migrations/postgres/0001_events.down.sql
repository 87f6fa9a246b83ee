DROP TABLE clip_events;
DROP TABLE clip_seq;
