import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addKeyframeAt, applyStep, boxAt, isActive, keyStep, newBox, placeAt, resize, type Keyframe, type RedactionBox } from './redaction';

// The table the Go side tests media/redact's Box.At with: the preview must
// draw a box where the render burns it.
const table = JSON.parse(readFileSync(new URL('../../../media/redact/testdata/interpolation.json', import.meta.url), 'utf8')) as {
  cases: { name: string; keyframes: Keyframe[]; at: [number, number, number][] }[];
};

describe('boxAt mirrors media/redact', () => {
  it('has the shared cases', () => expect(table.cases.length).toBeGreaterThanOrEqual(5));
  for (const c of table.cases) {
    it(c.name, () => {
      for (const [t, x, y] of c.at) {
        const p = boxAt({ keyframes: c.keyframes }, t);
        expect(p.x).toBeCloseTo(x, 9);
        expect(p.y).toBeCloseTo(y, 9);
      }
    });
  }
});

const box = (ks: Keyframe[]): RedactionBox => ({ kind: 'blur', start_ms: 0, end_ms: 4000, w: 0.2, h: 0.2, keyframes: ks });

describe('editing a box', () => {
  it('is active on both ends of its range', () => {
    const b = box([{ t_ms: 0, x: 0, y: 0 }]);
    expect(isActive(b, 0)).toBe(true);
    expect(isActive(b, 4000)).toBe(true);
    expect(isActive(b, 4001)).toBe(false);
  });
  it('moves a static box by its one keyframe', () => {
    const b = placeAt(box([{ t_ms: 100, x: 0.1, y: 0.1 }]), 2000, 0.5, 0.3);
    expect(b.keyframes).toEqual([{ t_ms: 100, x: 0.5, y: 0.3 }]);
  });
  it('gives a moving box a keyframe where it was moved', () => {
    let b = addKeyframeAt(box([{ t_ms: 0, x: 0.1, y: 0.1 }]), 2000);
    expect(b.keyframes.map((k) => k.t_ms)).toEqual([0, 2000]);
    b = placeAt(b, 1000, 0.6, 0.6);
    expect(b.keyframes.map((k) => k.t_ms)).toEqual([0, 1000, 2000]);
    expect(boxAt(b, 1000)).toEqual({ x: 0.6, y: 0.6 });
  });
  it('keeps the box inside the picture', () => {
    const b = placeAt(box([{ t_ms: 0, x: 0, y: 0 }]), 0, 0.95, -1);
    expect(b.keyframes[0]).toEqual({ t_ms: 0, x: 0.8, y: 0 });
    const r = resize(box([{ t_ms: 0, x: 0.7, y: 0.7 }]), 0.5, 2);
    expect(r.w).toBe(0.5);
    expect(r.h).toBe(1);
    expect(r.keyframes[0]).toEqual({ t_ms: 0, x: 0.5, y: 0 });
  });
  it('moves with arrows, further with Shift, resizes with Alt', () => {
    const b = box([{ t_ms: 0, x: 0.4, y: 0.4 }]);
    expect(applyStep(b, 0, keyStep({ key: 'ArrowRight' })!).keyframes[0].x).toBeCloseTo(0.405, 9);
    expect(applyStep(b, 0, keyStep({ key: 'ArrowUp', shiftKey: true })!).keyframes[0].y).toBeCloseTo(0.35, 9);
    expect(applyStep(b, 0, keyStep({ key: 'ArrowDown', altKey: true })!).h).toBeCloseTo(0.205, 9);
    expect(keyStep({ key: 'a' })).toBeNull();
  });
  it('starts a new box at the current time and within the clip', () => {
    const b = newBox('solid', 3000, 4000);
    expect(b.start_ms).toBe(3000);
    expect(b.end_ms).toBe(4000);
    expect(b.keyframes[0].t_ms).toBe(3000);
  });
});
