// Rubric editor rules: a blank rubric to start from, adding and removing
// domains, criteria and levels immutably, and the checks the server makes
// (so people see problems next to the field before saving). Keys are left
// to the server (derived from titles) except where a rubric already has
// them: they must stay the same across versions, since summaries and growth
// group by criterion key.

import type { RubricContent, RubricCriterion, RubricDomain, RubricLevel } from './annotationsApi';

/** Limits mirror the server's. */
export const MAX_DOMAINS = 20;
export const MAX_CRITERIA = 50;
export const MAX_LEVELS = 10;

/** defaultLevels are a 4-point scale most observation rubrics use. */
export function defaultLevels(): RubricLevel[] {
  return [
    { key: '', label: 'Beginning', score: 1 },
    { key: '', label: 'Developing', score: 2 },
    { key: '', label: 'Proficient', score: 3 },
    { key: '', label: 'Exemplary', score: 4 },
  ];
}

export function blankCriterion(): RubricCriterion {
  return { key: '', title: '', description: '', levels: defaultLevels() };
}

export function blankDomain(): RubricDomain {
  return { key: '', title: '', description: '', criteria: [blankCriterion()] };
}

export function blankRubric(): RubricContent {
  return { title: '', description: '', domains: [blankDomain()] };
}

/** clone deep-copies rubric content (the editor never mutates what it was given). */
export function clone(r: RubricContent): RubricContent {
  return {
    title: r.title,
    description: r.description ?? '',
    domains: r.domains.map((d) => ({
      key: d.key,
      title: d.title,
      description: d.description ?? '',
      criteria: d.criteria.map((c) => ({
        key: c.key,
        title: c.title,
        description: c.description ?? '',
        levels: c.levels.map((l) => ({ key: l.key, label: l.label, score: l.score, descriptor: l.descriptor ?? '' })),
      })),
    })),
  };
}

/** RubricErrors maps a JSON-ish path ("domains[0].criteria[1].title") to a problem. */
export type RubricErrors = Record<string, string>;

/** validateRubric checks what the server checks, in words for people. */
export function validateRubric(r: RubricContent): RubricErrors {
  const e: RubricErrors = {};
  if (!r.title.trim()) e.title = 'Give the rubric a title.';
  if (r.domains.length === 0) e.domains = 'Add at least one domain.';
  if (r.domains.length > MAX_DOMAINS) e.domains = `Use at most ${MAX_DOMAINS} domains.`;
  r.domains.forEach((d, di) => {
    const dp = `domains[${di}]`;
    if (!d.title.trim()) e[`${dp}.title`] = 'Give the domain a title.';
    if (d.criteria.length === 0) e[`${dp}.criteria`] = 'Add at least one criterion.';
    if (d.criteria.length > MAX_CRITERIA) e[`${dp}.criteria`] = `Use at most ${MAX_CRITERIA} criteria per domain.`;
    d.criteria.forEach((c, ci) => {
      const cp = `${dp}.criteria[${ci}]`;
      if (!c.title.trim()) e[`${cp}.title`] = 'Give the criterion a title.';
      if (c.levels.length > MAX_LEVELS) e[`${cp}.levels`] = `Use at most ${MAX_LEVELS} levels.`;
      const labels = new Set<string>();
      c.levels.forEach((l, li) => {
        const lp = `${cp}.levels[${li}]`;
        if (!l.label.trim()) e[`${lp}.label`] = 'Give the level a label.';
        else if (labels.has(l.label.trim().toLowerCase())) e[`${lp}.label`] = 'Two levels have this label.';
        labels.add(l.label.trim().toLowerCase());
        if (!Number.isInteger(l.score) || l.score < 0 || l.score > 100) e[`${lp}.score`] = 'A score is a whole number from 0 to 100.';
      });
    });
  });
  return e;
}

/** toContent drops empty optional fields and blank keys, for the API. */
export function toContent(r: RubricContent): RubricContent {
  const opt = <T extends object>(o: T, k: keyof T) => {
    const v = o[k];
    if (typeof v === 'string' && !v.trim()) delete o[k];
    return o;
  };
  const c = clone(r);
  c.title = c.title.trim();
  for (const d of c.domains) {
    opt(d, 'key');
    opt(d, 'description');
    for (const cr of d.criteria) {
      opt(cr, 'key');
      opt(cr, 'description');
      for (const l of cr.levels) {
        opt(l, 'key');
        opt(l, 'descriptor');
      }
    }
  }
  return c;
}
