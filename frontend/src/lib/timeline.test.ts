import { describe, expect, it } from 'vitest';
import {
  MarkerLayout,
  clamp,
  clockText,
  cueAt,
  downsample,
  layoutMarkers,
  MarkerLayer,
  parseSpriteVtt,
  parseVttTimestamp,
  parseWaveform,
  sliderKeyTarget,
  timeToX,
  waveformDurationMs,
  waveformGain,
  xToTime,
  type TimelineMarker,
} from './timeline';

describe('time and x', () => {
  it.each([
    { ms: 0, dur: 8000, w: 800, x: 0 },
    { ms: 4000, dur: 8000, w: 800, x: 400 },
    { ms: 8000, dur: 8000, w: 800, x: 800 },
    { ms: 9000, dur: 8000, w: 800, x: 800 },
    { ms: -5, dur: 8000, w: 800, x: 0 },
    { ms: 1000, dur: 0, w: 800, x: 0 },
    { ms: 1000, dur: 8000, w: 0, x: 0 },
    { ms: NaN, dur: 8000, w: 800, x: 0 },
  ])('timeToX($ms of $dur in $w px) = $x', ({ ms, dur, w, x }) => {
    expect(timeToX(ms, dur, w)).toBe(x);
  });

  it.each([
    { x: 0, dur: 480_000, w: 960, ms: 0 },
    { x: 480, dur: 480_000, w: 960, ms: 240_000 },
    { x: 2000, dur: 480_000, w: 960, ms: 480_000 },
    { x: -3, dur: 480_000, w: 960, ms: 0 },
    { x: 10, dur: 0, w: 960, ms: 0 },
  ])('xToTime($x px) = $ms', ({ x, dur, w, ms }) => {
    expect(xToTime(x, dur, w)).toBe(ms);
  });

  it('round-trips inside the track', () => {
    for (const ms of [0, 1, 1234, 59_999, 300_000]) {
      expect(xToTime(timeToX(ms, 300_000, 777), 300_000, 777)).toBeCloseTo(ms, 6);
    }
  });

  it('clamps', () => {
    expect(clamp(5, 0, 3)).toBe(3);
    expect(clamp(-1, 0, 3)).toBe(0);
    expect(clamp(NaN, 1, 3)).toBe(1);
  });
});

describe('clock text and slider keys', () => {
  it.each([
    [0, '0:00'],
    [999, '0:00'],
    [192_000, '3:12'],
    [480_000, '8:00'],
    [3_723_000, '1:02:03'],
    [-1, '0:00'],
    [NaN, '0:00'],
  ])('clockText(%d) = %s', (ms, text) => {
    expect(clockText(ms)).toBe(text);
  });

  it.each([
    { key: 'ArrowRight', shift: false, to: 11_000 },
    { key: 'ArrowUp', shift: false, to: 11_000 },
    { key: 'ArrowLeft', shift: false, to: 9_000 },
    { key: 'ArrowDown', shift: false, to: 9_000 },
    { key: 'ArrowRight', shift: true, to: 20_000 },
    { key: 'PageUp', shift: false, to: 20_000 },
    { key: 'PageDown', shift: false, to: 0 },
    { key: 'Home', shift: false, to: 0 },
    { key: 'End', shift: false, to: 60_000 },
    { key: 'a', shift: false, to: null },
    { key: ' ', shift: false, to: null },
  ])('$key (shift $shift) from 10 s goes to $to', ({ key, shift, to }) => {
    expect(sliderKeyTarget(key, shift, 10_000, 60_000)).toBe(to);
  });

  it('never leaves the clip', () => {
    expect(sliderKeyTarget('ArrowRight', false, 59_800, 60_000)).toBe(60_000);
    expect(sliderKeyTarget('ArrowLeft', true, 3_000, 60_000)).toBe(0);
  });
});

describe('sprite track', () => {
  const vtt = `WEBVTT

00:00.000 --> 00:02.000
sprite.jpg#xywh=0,0,160,90

00:00:02.000 --> 00:00:04.000
sprite.jpg#xywh=160,0,160,90

1
00:04.000 --> 00:06.000
sprite.jpg#xywh=pixel:320,0,160,90
`;

  it('parses cues with and without hours, cue ids and pixel: units', () => {
    const cues = parseSpriteVtt(vtt, 'http://h/api/v1/clips/c1/media/thumbs.vtt');
    expect(cues).toEqual([
      { startMs: 0, endMs: 2000, url: 'http://h/api/v1/clips/c1/media/sprite.jpg', x: 0, y: 0, w: 160, h: 90 },
      { startMs: 2000, endMs: 4000, url: 'http://h/api/v1/clips/c1/media/sprite.jpg', x: 160, y: 0, w: 160, h: 90 },
      { startMs: 4000, endMs: 6000, url: 'http://h/api/v1/clips/c1/media/sprite.jpg', x: 320, y: 0, w: 160, h: 90 },
    ]);
  });

  it('keeps relative URLs without a base, and handles CRLF and a BOM', () => {
    const cues = parseSpriteVtt('\uFEFFWEBVTT\r\n\r\n00:01.000 --> 00:02.500\r\nimg/s.jpg#xywh=1,2,3,4\r\n');
    expect(cues).toEqual([{ startMs: 1000, endMs: 2500, url: 'img/s.jpg', x: 1, y: 2, w: 3, h: 4 }]);
  });

  it.each([
    ['not a vtt', 'hello\n\n00:00.000 --> 00:01.000\na.jpg#xywh=0,0,1,1'],
    ['no fragment', 'WEBVTT\n\n00:00.000 --> 00:01.000\na.jpg'],
    ['bad time', 'WEBVTT\n\n00:00 --> 00:01.000\na.jpg#xywh=0,0,1,1'],
    ['end before start', 'WEBVTT\n\n00:02.000 --> 00:01.000\na.jpg#xywh=0,0,1,1'],
    ['zero size', 'WEBVTT\n\n00:00.000 --> 00:01.000\na.jpg#xywh=0,0,0,9'],
  ])('skips %s', (_name, text) => {
    expect(parseSpriteVtt(text)).toEqual([]);
  });

  it('keeps good cues around a bad one and sorts them', () => {
    const text = 'WEBVTT\n\n00:04.000 --> 00:06.000\nb.jpg#xywh=0,0,2,2\n\n00:02.000 --> 00:01.000\nbad.jpg#xywh=0,0,2,2\n\n00:00.000 --> 00:02.000\na.jpg#xywh=0,0,2,2\n';
    expect(parseSpriteVtt(text).map((c) => c.url)).toEqual(['a.jpg', 'b.jpg']);
  });

  it('reads timestamps', () => {
    expect(parseVttTimestamp('01:02:03.456')).toBe(3_723_456);
    expect(parseVttTimestamp('02:03.456')).toBe(123_456);
    expect(parseVttTimestamp('2:03.456')).toBeNaN();
    expect(parseVttTimestamp('00:61.000')).toBeNaN();
  });

  it.each([
    { ms: 0, want: 0 },
    { ms: 1999, want: 0 },
    { ms: 2000, want: 2000 },
    { ms: 5999, want: 4000 },
    { ms: 6000, want: 4000 },
    { ms: 99_999, want: 4000 },
    { ms: -10, want: 0 },
  ])('cueAt($ms) starts at $want', ({ ms, want }) => {
    const cues = parseSpriteVtt(vtt);
    expect(cueAt(cues, ms)?.startMs).toBe(want);
  });

  it('finds no cue in a gap or an empty track', () => {
    const gap = parseSpriteVtt('WEBVTT\n\n00:00.000 --> 00:01.000\na.jpg#xywh=0,0,1,1\n\n00:05.000 --> 00:06.000\nb.jpg#xywh=0,0,1,1\n');
    expect(cueAt(gap, 3000)).toBeNull();
    expect(cueAt([], 0)).toBeNull();
  });
});

describe('waveform', () => {
  // 8 kHz, 80 samples per pixel: one peak pair per 10 ms.
  const json = {
    version: 2,
    channels: 1,
    sample_rate: 8000,
    samples_per_pixel: 80,
    bits: 8,
    length: 8,
    data: [-10, 10, -20, 20, -128, 127, -5, 5, 0, 0, -64, 64, -1, 1, -30, 30],
  };

  it('parses audiowaveform JSON', () => {
    const w = parseWaveform(json);
    expect(Array.from(w.mins)).toEqual([-10, -20, -128, -5, 0, -64, -1, -30]);
    expect(Array.from(w.maxs)).toEqual([10, 20, 127, 5, 0, 64, 1, 30]);
    expect(waveformDurationMs(w)).toBe(80);
  });

  it('takes the first channel of stereo data', () => {
    const w = parseWaveform({ ...json, channels: 2, data: [-1, 1, -9, 9, -2, 2, -8, 8] });
    expect(Array.from(w.maxs)).toEqual([1, 2]);
  });

  it.each([
    ['null', null],
    ['no rate', { ...json, sample_rate: 0 }],
    ['12 bits', { ...json, bits: 12 }],
    ['no data', { ...json, data: 'x' }],
  ])('rejects %s', (_n, bad) => {
    expect(() => parseWaveform(bad)).toThrow(/waveform/);
  });

  it('keeps the loudest peak of each column when shrinking', () => {
    const w = parseWaveform(json);
    const c = downsample(w, 2);
    // Column 0 covers peaks 0–3 (contains -128/127), column 1 peaks 4–7.
    expect(Array.from(c.mins)).toEqual([-1, -0.5]);
    expect(c.maxs[0]).toBeCloseTo(127 / 128);
    expect(c.maxs[1]).toBeCloseTo(0.5);
  });

  it('takes the peak under the centre when stretching', () => {
    const w = parseWaveform(json);
    const c = downsample(w, 16);
    expect(c.maxs.length).toBe(16);
    expect(c.maxs[4]).toBeCloseTo(127 / 128); // centre of column 4 is peak 2
    expect(c.maxs[5]).toBeCloseTo(127 / 128);
    expect(c.maxs[6]).toBeCloseTo(5 / 128);
  });

  it('spreads the waveform over the clip length, leaving silence past its end', () => {
    const w = parseWaveform(json);
    const c = downsample(w, 4, 160); // the clip is twice as long as the data
    expect(c.maxs[2]).toBe(0);
    expect(c.maxs[3]).toBe(0);
    expect(c.maxs[0]).toBeGreaterThan(0);
  });

  it.each([
    { name: 'full scale', peak: 1, want: 1 },
    { name: 'quiet', peak: 0.25, want: 4 },
    { name: 'near silence is capped', peak: 0.01, want: 8 },
    { name: 'silence', peak: 0, want: 1 },
  ])('waveformGain: $name', ({ peak, want }) => {
    const cols = { mins: new Float32Array([-peak / 2, 0]), maxs: new Float32Array([0, peak]) };
    expect(waveformGain(cols)).toBeCloseTo(want);
  });

  it('handles empty input and zero columns', () => {
    const w = parseWaveform({ ...json, data: [] });
    expect(downsample(w, 10).maxs.length).toBe(10);
    expect(downsample(parseWaveform(json), 0).maxs.length).toBe(0);
  });
});

describe('markers', () => {
  const m = (id: string, startMs: number, endMs?: number): TimelineMarker => ({ id, startMs, endMs, color: '#000', label: id });

  it('lays out pins and spans, with a minimum span width, clamped to the track', () => {
    const boxes = layoutMarkers([m('pin', 5000), m('span', 2000, 4000), m('tiny', 1000, 1001), m('late', 20_000), m('bad', 3000, 1000)], 10_000, 1000);
    expect(boxes.map((b) => [b.marker.id, b.left, b.width])).toEqual([
      ['pin', 500, 0],
      ['span', 200, 200],
      ['tiny', 100, 3],
      ['late', 1000, 0],
      ['bad', 300, 0],
    ]);
  });

  it('MarkerLayer sorts, replaces and notifies', () => {
    const layer = new MarkerLayer();
    const seen: string[][] = [];
    const stop = layer.subscribe((list) => seen.push(list.map((x) => x.id)));
    layer.setMarkers([m('b', 2000), m('a', 1000), m('c', 1000)]);
    layer.setMarkers([m('z', 0)]);
    stop();
    layer.setMarkers([]);
    expect(seen).toEqual([[], ['a', 'c', 'b'], ['z']]);
    expect(layer.markers).toEqual([]);
  });

  it('MarkerLayout keeps the box of an unchanged marker until the track changes size', () => {
    const layout = new MarkerLayout();
    const a = m('a', 1000);
    const b = m('b', 2000, 4000);
    const first = layout.layout([a, b], 10_000, 1000);
    expect(first.map((x) => [x.marker.id, x.left, x.width])).toEqual([
      ['a', 100, 0],
      ['b', 200, 200],
    ]);
    const b2 = { ...b, startMs: 3000 };
    const second = layout.layout([a, b2, m('c', 0)], 10_000, 1000);
    expect(second[0]).toBe(first[0]); // same marker object: same box
    expect(second[1]).not.toBe(first[1]);
    expect(second[1].left).toBe(300);
    const wider = layout.layout([a], 10_000, 2000);
    expect(wider[0]).not.toBe(first[0]);
    expect(wider[0].left).toBe(200);
  });

  it('does not keep the caller’s array', () => {
    const layer = new MarkerLayer();
    const list = [m('a', 1)];
    layer.setMarkers(list);
    list.push(m('b', 2));
    expect(layer.markers.length).toBe(1);
  });
});
