import { describe, expect, it } from 'vitest';
import type { TranscriptWord } from './captionsApi';
import {
  activeWord,
  fold,
  groupLines,
  HOLD_MS,
  lineOf,
  markTerms,
  matchFrom,
  parseTimeParam,
  searchWords,
  seekWhenReady,
  stepMatch,
} from './transcript';

/** words builds a transcript from "text@start-end" specs (ms). */
function words(...specs: string[]): TranscriptWord[] {
  return specs.map((s) => {
    const [text, times] = s.split('@');
    const [a, b] = times.split('-').map(Number);
    return { text, start_ms: a, end_ms: b, confidence: 1 };
  });
}

/** evenly spoken words: n words of 300 ms with 100 ms between them from at. */
function speech(texts: string[], at = 0): TranscriptWord[] {
  return texts.map((text, i) => ({ text, start_ms: at + i * 400, end_ms: at + i * 400 + 300, confidence: 0.9 }));
}

describe('groupLines', () => {
  const cases: Array<{ name: string; words: TranscriptWord[]; want: Array<[number, number, boolean]> }> = [
    { name: 'empty', words: [], want: [] },
    { name: 'one word', words: words('three@2500-2900'), want: [[0, 0, false]] },
    {
      name: 'a pause starts a line, a long one a paragraph',
      words: words('good@0-300', 'morning@400-800', 'class@2200-2600', 'open@7000-7300', 'books@7400-7800'),
      want: [
        [0, 1, false],
        [2, 2, false],
        [3, 4, true],
      ],
    },
    {
      name: 'a sentence end closes a long enough line',
      words: speech(['we', 'add', 'the', 'tops.', 'then', 'the', 'bottoms']),
      want: [
        [0, 3, false],
        [4, 6, false],
      ],
    },
    {
      name: 'a sentence end does not close a short line',
      words: speech(['yes.', 'and', 'then']),
      want: [[0, 2, false]],
    },
    {
      name: 'a full line breaks at maxWords',
      words: speech(Array.from({ length: 20 }, (_, i) => `w${i}`)),
      want: [
        [0, 15, false],
        [16, 19, false],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(groupLines(c.words).map((l) => [l.first, l.last, l.paragraph])).toEqual(c.want);
    });
  }

  it('breaks lines longer than maxMs and keeps times', () => {
    const ws = words('so@0-500', 'slowly@3000-3500', 'said@6000-6500', 'words@9500-9900');
    const lines = groupLines(ws, { gapMs: 5000 });
    expect(lines.map((l) => [l.first, l.last, l.startMs, l.endMs])).toEqual([
      [0, 2, 0, 6500],
      [3, 3, 9500, 9900],
    ]);
  });

  it('covers every word once, in order, for a 40-minute lesson', () => {
    const ws: TranscriptWord[] = [];
    for (let i = 0; i < 6000; i++) {
      const pause = i % 37 === 0 ? 5000 : i % 11 === 0 ? 1500 : 100;
      const at = (ws.at(-1)?.end_ms ?? 0) + pause;
      ws.push({ text: i % 13 === 12 ? 'end.' : 'word', start_ms: at, end_ms: at + 300, confidence: 1 });
    }
    const lines = groupLines(ws);
    let next = 0;
    for (const l of lines) {
      expect(l.first).toBe(next);
      expect(l.last - l.first).toBeLessThan(16);
      next = l.last + 1;
    }
    expect(next).toBe(ws.length);
    expect(lines.some((l) => l.paragraph)).toBe(true);
  });
});

describe('activeWord and lineOf', () => {
  const ws = words('one@1000-1400', 'two@1500-1900', 'three@6000-6400');
  const cases: Array<[number, number]> = [
    [0, -1], // before the first word
    [999, -1],
    [1000, 0],
    [1450, 0], // the short pause after "one"
    [1500, 1],
    [1900 + HOLD_MS - 1, 1], // held through a short pause
    [1900 + HOLD_MS, -1], // a long silence
    [6000, 2],
    [60_000, -1], // long after the end
  ];
  for (const [ms, want] of cases) {
    it(`at ${ms} ms the word is ${want}`, () => {
      expect(activeWord(ws, ms)).toBe(want);
    });
  }

  it('finds the line of a word', () => {
    const lines = groupLines(ws);
    expect(lines).toHaveLength(2);
    expect(lineOf(lines, -1)).toBe(-1);
    expect(lineOf(lines, 0)).toBe(0);
    expect(lineOf(lines, 1)).toBe(0);
    expect(lineOf(lines, 2)).toBe(1);
    expect(lineOf(lines, 3)).toBe(-1);
  });
});

describe('fold', () => {
  it.each([
    ['Fractions,', 'fractions'],
    ['Élève', 'eleve'],
    ["don't", 'dont'],
    ['don’t', 'dont'],
    ['  Hello—world! ', 'hello world'],
  ])('%s → %s', (input, want) => {
    expect(fold(input)).toBe(want);
  });
});

describe('searchWords', () => {
  const ws = words('Who@0-300', 'can@400-600', 'count@700-900', 'to@1000-1100', 'three?@1200-1500', 'Three!@2400-2900', 'fractions@4000-4500');
  const cases: Array<{ q: string; want: Array<[number, number]> }> = [
    { q: '', want: [] },
    { q: '   ', want: [] },
    { q: 'three', want: [[4, 4], [5, 5]] },
    { q: 'THREE', want: [[4, 4], [5, 5]] },
    { q: 'ract', want: [[6, 6]] }, // inside a word
    { q: 'count to th', want: [[2, 4]] }, // a phrase, the last word a prefix
    { q: 'can count', want: [[1, 2]] },
    { q: 'count three', want: [] }, // not consecutive
    { q: 'seven', want: [] },
  ];
  for (const c of cases) {
    it(`"${c.q}"`, () => {
      expect(searchWords(ws, c.q).map((m) => [m.first, m.last])).toEqual(c.want);
    });
  }

  it('steps through matches with wrap-around', () => {
    expect(stepMatch(-1, 0, 1)).toBe(-1);
    expect(stepMatch(-1, 3, 1)).toBe(0);
    expect(stepMatch(-1, 3, -1)).toBe(2);
    expect(stepMatch(0, 3, 1)).toBe(1);
    expect(stepMatch(2, 3, 1)).toBe(0);
    expect(stepMatch(0, 3, -1)).toBe(2);
  });

  it('starts from the playback position', () => {
    const ms = searchWords(ws, 'three');
    expect(matchFrom(ms, 0)).toBe(0);
    expect(matchFrom(ms, 5)).toBe(1);
    expect(matchFrom(ms, 6)).toBe(0); // none after: the first
    expect(matchFrom([], 3)).toBe(-1);
  });
});

describe('markTerms', () => {
  it('marks the words a search finds, ignoring case and accents', () => {
    expect(markTerms('Who can count to three? Three!', 'three')).toEqual([
      { text: 'Who can count to ', mark: false },
      { text: 'three', mark: true },
      { text: '? ', mark: false },
      { text: 'Three', mark: true },
      { text: '!', mark: false },
    ]);
    expect(markTerms('Une élève', 'eleve')).toEqual([
      { text: 'Une ', mark: false },
      { text: 'élève', mark: true },
    ]);
  });

  it('leaves text without matches whole', () => {
    expect(markTerms('nothing here', 'three')).toEqual([{ text: 'nothing here', mark: false }]);
    expect(markTerms('text', '')).toEqual([{ text: 'text', mark: false }]);
    expect(markTerms('', 'x')).toEqual([]);
  });
});

describe('parseTimeParam', () => {
  it.each([
    ['2500', 2500],
    ['0', 0],
    ['2.5s', 2500],
    ['1m30s', 90_000],
    ['1h2m3s', 3_723_000],
    [' 42 ', 42],
  ])('%s → %d ms', (v, want) => {
    expect(parseTimeParam(v)).toBe(want);
  });
  it.each([[null], [''], ['abc'], ['-5'], ['1.5'], ['s']])('%s is no time', (v) => {
    expect(parseTimeParam(v)).toBeNull();
  });
});

describe('seekWhenReady', () => {
  function fakePlayer(ready: boolean) {
    const listeners = new Set<(s: { ready: boolean }) => void>();
    const seeks: number[] = [];
    let state = { ready };
    return {
      seeks,
      listeners,
      subscribe(fn: (s: { ready: boolean }) => void) {
        listeners.add(fn);
        fn(state);
        return () => listeners.delete(fn);
      },
      seek(ms: number) {
        seeks.push(ms);
      },
      set(next: { ready: boolean }) {
        state = next;
        for (const fn of [...listeners]) fn(state);
      },
    };
  }

  it('seeks once the media is ready, one time', () => {
    const p = fakePlayer(false);
    seekWhenReady(p, 2500);
    expect(p.seeks).toEqual([]);
    p.set({ ready: true });
    p.set({ ready: true });
    expect(p.seeks).toEqual([2500]);
    expect(p.listeners.size).toBe(0);
  });

  it('seeks at once when already ready', () => {
    const p = fakePlayer(true);
    seekWhenReady(p, 700);
    expect(p.seeks).toEqual([700]);
    expect(p.listeners.size).toBe(0);
  });

  it('can be cancelled', () => {
    const p = fakePlayer(false);
    const cancel = seekWhenReady(p, 700);
    cancel();
    p.set({ ready: true });
    expect(p.seeks).toEqual([]);
  });
});
