DROP TABLE media_secrets;
DROP TABLE clip_audience_emails;
