DROP TABLE clip_audience_groups;
DROP TABLE clip_audience_users;
DROP TABLE clips;
