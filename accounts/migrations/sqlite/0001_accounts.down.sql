DROP TABLE invitations;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
