DROP TABLE rubric_versions;
DROP TABLE rubrics;
