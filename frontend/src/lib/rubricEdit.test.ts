import { describe, expect, it } from 'vitest';
import { blankRubric, clone, toContent, validateRubric } from './rubricEdit';

describe('rubric editor rules', () => {
  it('flags what the server would refuse, by path', () => {
    const r = blankRubric();
    r.domains[0].criteria[0].levels[1].label = 'beginning';
    r.domains[0].criteria[0].levels[2].score = 101;
    expect(validateRubric(r)).toEqual({
      title: 'Give the rubric a title.',
      'domains[0].title': 'Give the domain a title.',
      'domains[0].criteria[0].title': 'Give the criterion a title.',
      'domains[0].criteria[0].levels[1].label': 'Two levels have this label.',
      'domains[0].criteria[0].levels[2].score': 'A score is a whole number from 0 to 100.',
    });
  });

  it('accepts a complete rubric and drops blank keys and descriptions for the API', () => {
    const r = blankRubric();
    r.title = ' Talk moves ';
    r.domains[0].title = 'Discourse';
    r.domains[0].criteria[0].title = 'Wait time';
    r.domains[0].criteria[0].key = 'wait-time';
    expect(validateRubric(r)).toEqual({});
    const c = toContent(r);
    expect(c.title).toBe('Talk moves');
    expect(c.domains[0]).not.toHaveProperty('key');
    expect(c.domains[0].criteria[0].key).toBe('wait-time');
    expect(c.domains[0].criteria[0].levels[0]).toEqual({ label: 'Beginning', score: 1 });
    // The editor's copy is untouched.
    expect(r.domains[0].key).toBe('');
    expect(clone(clone(r))).toEqual(clone(r));
  });
});
