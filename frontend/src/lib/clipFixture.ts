// A playable clip for tests, with what each test needs overridden. Only
// test files import it, so it never reaches the built app.

import type { Clip } from './api';

export function clipFixture(over: Partial<Clip> = {}): Clip {
  return {
    id: 'c',
    title: 'Lesson',
    description: '',
    status: 'ready',
    progress: 100,
    owner: { id: 'u1', name: 'Tom Teacher' },
    filename: 'lesson.mp4',
    size_bytes: 1000,
    duration_ms: 6000,
    width: 640,
    height: 360,
    has_video: true,
    has_audio: true,
    caption_status: 'none',
    reflect_first: false,
    feedback_after_reflection: false,
    audience: { users: [], groups: [] },
    media: null,
    created_at: '2026-03-01T10:00:00Z',
    updated_at: '2026-03-01T10:00:00Z',
    ...over,
  };
}
