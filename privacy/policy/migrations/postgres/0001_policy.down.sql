DROP TABLE privacy_policy;
