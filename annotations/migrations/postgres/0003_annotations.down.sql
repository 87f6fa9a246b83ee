DROP TABLE annotation_revisions;
DROP TABLE annotation_replies;
DROP TABLE annotation_tags;
DROP TABLE annotations;
