// Package annotations owns the coaching record of a clip: rubrics (domains,
// criteria, levels, versions), time-stamped annotations with replies and
// edit history, reflections and goals, summaries and growth over time,
// exports and imports, and the clip's event log that live rooms replay.
package annotations
