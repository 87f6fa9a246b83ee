DROP TABLE goal_evidence;
DROP TABLE goals;
DROP TABLE reflections;
