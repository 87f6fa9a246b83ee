import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { failureFrom, looksLikeEmail, required } from './forms';

describe('required', () => {
  it('flags blank fields only', () => {
    expect(required({ a: '', b: '  ', c: 'x' })).toEqual({
      a: 'This field is required.',
      b: 'This field is required.',
    });
  });
  it('keeps an earlier message for the same field', () => {
    expect(required({ a: '' }, { a: 'Earlier.' })).toEqual({ a: 'Earlier.' });
  });
});

describe('looksLikeEmail', () => {
  const cases: Array<[string, boolean]> = [
    ['ada@school.test', true],
    [' ada@school.test ', true],
    ['ada', false],
    ['ada@', false],
    ['a b@c.d', false],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => expect(looksLikeEmail(input)).toBe(want));
  }
});

describe('failureFrom', () => {
  const fieldErr = new ApiError(422, 'invalid_input', 'Please correct: name: too short.', { name: 'Too short.' });
  it('summarises when every field error is shown by the form', () => {
    expect(failureFrom(fieldErr, ['name', 'email'])).toEqual({
      message: 'Please fix the highlighted fields.',
      fields: { name: 'Too short.' },
    });
  });
  it('keeps the server message when a field is not on the form', () => {
    expect(failureFrom(fieldErr, ['email']).message).toBe('Please correct: name: too short.');
  });
  it('keeps the server message without field errors', () => {
    const err = new ApiError(401, 'invalid_credentials', 'Wrong password.');
    expect(failureFrom(err, ['email'])).toEqual({ message: 'Wrong password.', fields: {} });
  });
  it('hides unexpected exceptions behind a generic message', () => {
    expect(failureFrom(new TypeError('x is undefined')).message).toBe('Something went wrong. Try again.');
  });
});
