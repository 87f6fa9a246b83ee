import { describe, expect, it } from 'vitest';
import type { Pointer } from './live';
import { acceptPointer, framePosition, PointerThrottle, POINTER_EVERY_MS } from './pointer';
import type { SyncState } from './sync';

const session: SyncState = { active: true, host_id: 'host', host_name: 'Cora Coach', playing: true, position_ms: 0, rate: 1, at_server_ms: 0 };
const msg = (p: Partial<Pointer>): Pointer => ({ type: 'pointer', user_id: 'host', x: 0.5, y: 0.5, ...p });

describe('acceptPointer', () => {
  it('draws the host’s pointer for a follower, clamped to the frame', () => {
    expect(acceptPointer(msg({ x: 0.25, y: 0.75 }), session, 'me')).toEqual({ userId: 'host', name: 'Cora Coach', x: 0.25, y: 0.75 });
    expect(acceptPointer(msg({ x: 1.5, y: -0.2 }), session, 'me')).toMatchObject({ x: 1, y: 0 });
  });

  it.each([
    ['no session', msg({}), null, 'me'],
    ['an ended session', msg({}), { ...session, active: false }, 'me'],
    ['not from the host', msg({ user_id: 'someone' }), session, 'me'],
    ['the viewer’s own', msg({}), session, 'host'],
    ['not a number', msg({ x: Number.NaN }), session, 'me'],
  ] as Array<[string, Pointer, SyncState | null, string]>)('ignores %s', (_name, p, sync, me) => {
    expect(acceptPointer(p, sync, me)).toBeNull();
  });
});

describe('framePosition', () => {
  const picture = { left: 100, top: 50, width: 400, height: 200 };
  it('maps page coordinates into the picture', () => {
    expect(framePosition(300, 150, picture)).toEqual({ x: 0.5, y: 0.5 });
    expect(framePosition(100, 50, picture)).toEqual({ x: 0, y: 0 });
    expect(framePosition(500, 250, picture)).toEqual({ x: 1, y: 1 });
  });
  it('is null outside the picture (the letterbox) or without one', () => {
    expect(framePosition(99, 150, picture)).toBeNull();
    expect(framePosition(300, 251, picture)).toBeNull();
    expect(framePosition(0, 0, { left: 0, top: 0, width: 0, height: 0 })).toBeNull();
  });
});

describe('PointerThrottle', () => {
  function setup() {
    let now = 0;
    const timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
    const sent: Array<[number, number, number]> = [];
    const th = new PointerThrottle((x, y) => sent.push([now, x, y]), {
      clock: () => now,
      setTimeout: (fn, ms) => {
        const t = { at: now + ms, fn, live: true };
        timers.push(t);
        return t;
      },
      clearTimeout: (h) => ((h as { live: boolean }).live = false),
    });
    const advance = (ms: number) => {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = due.at;
        due.live = false;
        due.fn();
      }
      now = end;
    };
    return { th, sent, advance, timers };
  }

  it('sends the first move at once and then at most one per period, ending on the latest', () => {
    const { th, sent, advance } = setup();
    th.move(0.1, 0.1);
    expect(sent).toEqual([[0, 0.1, 0.1]]);
    // A burst of moves (a mouse at 60 Hz) within one period: one trailing send.
    for (let i = 1; i <= 6; i++) {
      advance(16);
      th.move(0.1 + i / 100, 0.2);
    }
    expect(sent.length).toBe(1);
    advance(POINTER_EVERY_MS);
    expect(sent.length).toBe(2);
    expect(sent[1]).toEqual([POINTER_EVERY_MS, 0.16, 0.2]);
    // Two seconds of continuous movement: about 8 a second, never faster.
    for (let i = 0; i < 120; i++) {
      advance(16);
      th.move(0.5, i / 120);
    }
    advance(1000);
    const gaps = sent.slice(1).map((s, i) => s[0] - sent[i][0]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(POINTER_EVERY_MS);
    expect(sent.length).toBeLessThanOrEqual(2 + Math.ceil(1920 / POINTER_EVERY_MS) + 1);
    expect(sent[sent.length - 1].slice(1)).toEqual([0.5, 119 / 120]);
  });

  it('drops a pending move when pointing stops', () => {
    const { th, sent, advance } = setup();
    th.move(0.3, 0.3);
    advance(10);
    th.move(0.4, 0.4);
    th.cancel();
    advance(1000);
    expect(sent).toEqual([[0, 0.3, 0.3]]);
  });

  it('clamps to the frame and ignores non-numbers', () => {
    const { th, sent } = setup();
    th.move(Number.NaN, 0.5);
    th.move(-1, 2);
    expect(sent).toEqual([[0, 0, 1]]);
  });
});
