import { describe, expect, it } from 'vitest';
import {
  cueNamed,
  cueTextForEditing,
  cueTextForSaving,
  formatCueTime,
  fromDraft,
  newDraftCue,
  parseCueTime,
  toDraft,
} from './captionEdit';
import { captionContentType, captionFileUrl } from './captionsApi';

describe('cue times', () => {
  it.each([
    [0, '0:00.000'],
    [2500, '0:02.500'],
    [62_005, '1:02.005'],
    [3_723_400, '1:02:03.400'],
    [-5, '0:00.000'],
  ])('formats %d ms as %s', (ms, want) => {
    expect(formatCueTime(ms)).toBe(want);
  });

  it.each([
    ['0:02.500', 2500],
    ['2.5', 2500],
    ['2', 2000],
    ['1:02', 62_000],
    ['1:02:03.4', 3_723_400],
    ['00:00:01,250', 1250],
    [' 0:07.05 ', 7050],
  ])('reads %s as %d ms', (text, want) => {
    expect(parseCueTime(text)).toBe(want);
  });

  it.each([[''], ['abc'], ['1:75'], ['1:61:00'], ['-1'], ['1.2345'], ['1::2']])('refuses %s', (text) => {
    expect(parseCueTime(text)).toBeNull();
  });

  it('round-trips', () => {
    for (const ms of [0, 1, 999, 59_999, 3_599_999, 3_600_000, 7_261_123]) {
      expect(parseCueTime(formatCueTime(ms))).toBe(ms);
    }
  });
});

describe('cue text', () => {
  it('shows escapes as the characters they stand for', () => {
    expect(cueTextForEditing('Tom &amp; Jerry &lt;3 &gt; x')).toBe('Tom & Jerry <3 > x');
    expect(cueTextForEditing('<i>so</i>')).toBe('<i>so</i>');
  });

  it.each([
    ['Tom & Jerry', 'Tom &amp; Jerry'],
    ['1 < 2 > 0', '1 &lt; 2 &gt; 0'],
    ['<i>so</i> <b>very</b> <u>much</u>', '<i>so</i> <b>very</b> <u>much</u>'],
    ['<v Ms. Rivera>Who can count?</v>', '<v Ms. Rivera>Who can count?</v>'],
    ['<script>x</script>', '&lt;script&gt;x&lt;/script&gt;'],
    ['  two\r\n\r\n lines ', 'two\nlines'],
    ['   ', ''],
  ])('saves %j as %j', (typed, want) => {
    expect(cueTextForSaving(typed)).toBe(want);
  });

  it('round-trips what people type', () => {
    for (const s of ['Tom & Jerry', 'a < b', '<i>x</i> &amp; literal']) {
      expect(cueTextForEditing(cueTextForSaving(s))).toBe(s);
    }
  });
});

const msg = { badTime: 'bad time', endBeforeStart: 'end before start', emptyText: 'empty' };

describe('fromDraft', () => {
  it('turns rows back into the cues they came from', () => {
    const cues = [
      { id: '1', start_ms: 600, end_ms: 2100, text: 'Who can count to three?' },
      { start_ms: 2400, end_ms: 3400, settings: 'line:85%', text: 'Tom &amp; Jerry' },
    ];
    const { cues: out, problems } = fromDraft(toDraft(cues), msg);
    expect(problems).toEqual([]);
    expect(out).toEqual(cues);
  });

  it('names each problem by row and field', () => {
    const rows = [
      { ...newDraftCue(0), text: 'ok' },
      { ...newDraftCue(0), start: 'soon', text: 'x' },
      { ...newDraftCue(0), start: '0:05', end: '0:04', text: 'x' },
      { ...newDraftCue(0), text: '  ' },
    ];
    expect(fromDraft(rows, msg).problems).toEqual([
      { index: 1, field: 'start', message: 'bad time' },
      { index: 2, field: 'end', message: 'end before start' },
      { index: 3, field: 'text', message: 'empty' },
    ]);
  });

  it('gives new rows distinct keys and times after the previous cue', () => {
    const a = newDraftCue(3000);
    const b = newDraftCue(3000);
    expect(a.key).not.toBe(b.key);
    expect([a.start, a.end]).toEqual(['0:03.000', '0:05.000']);
  });
});

describe('cueNamed', () => {
  it.each([
    ['cue 3 ends at 00:00:01.000, not after it starts (00:00:02.000)', 10, 2],
    ['Cue 1 (00:00:00.600) has no text.', 2, 0],
    ['cue 12 starts at …', 5, -1], // no such row
    ['the captions have no cues', 5, -1],
  ])('%s → %d', (m, count, want) => {
    expect(cueNamed(m, count)).toBe(want);
  });
});

describe('captions API helpers', () => {
  it('builds download URLs and upload types', () => {
    expect(captionFileUrl('c 1', 'en')).toBe('/api/v1/clips/c%201/captions/en.vtt');
    expect(captionFileUrl('c1', 'pt-BR', 'srt')).toBe('/api/v1/clips/c1/captions/pt-BR.srt');
    expect(captionContentType('lesson.SRT')).toBe('application/x-subrip');
    expect(captionContentType('lesson.vtt')).toBe('text/vtt');
  });
});
