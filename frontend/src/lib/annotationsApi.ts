// The typed client for the coaching side of the API: annotations and
// replies, rubrics, summaries and growth, reflections, goals, exports and
// imports (annotations/http.go, docs/api-annotations.md). It goes through
// Api.request, so CSRF, errors and the signed-out redirect work the same as
// everywhere else.

import type { Api, Clip } from './api';

const seg = (id: string | number): string => encodeURIComponent(String(id));

/** Kind says what an annotation does for the teacher. */
export type Kind = 'strength' | 'suggestion' | 'question' | 'note';
/** KINDS in the order the composer offers them. */
export const KINDS: readonly Kind[] = ['strength', 'suggestion', 'question', 'note'];

/** Visibility: `private` notes are the author's own; `audience` is everyone who may view the clip. */
export type Visibility = 'private' | 'audience';

/** Region is a rectangle of the frame, normalized: (0,0) top left, (1,1) bottom right. */
export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Person names an author. */
export interface Person {
  id: string;
  name: string;
}

/** Reply is one message in an annotation's thread. */
export interface Reply {
  id: string;
  annotation_id: string;
  clip_id: string;
  in_reply_to?: string;
  author: Person;
  body: string;
  /** body_html is rendered by the server's escaping renderer: safe to insert. */
  body_html: string;
  revision: number;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

/** Annotation is a time-stamped, optionally rubric-coded comment on a clip. */
export interface Annotation {
  id: string;
  clip_id: string;
  author: Person;
  start_ms: number;
  end_ms: number | null;
  region: Region | null;
  body: string;
  /** body_html is rendered by the server's escaping renderer: safe to insert. */
  body_html: string;
  kind: Kind;
  tags: string[] | null;
  visibility: Visibility;
  rubric_id?: string;
  rubric_version?: number;
  criterion?: string;
  criterion_title?: string;
  level?: string;
  level_label?: string;
  level_score?: number;
  revision: number;
  reply_count: number;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
  /** replies is filled by the single-annotation GET only. */
  replies?: Reply[];
}

/** AnnotationInput creates an annotation. */
export interface AnnotationInput {
  start_ms: number;
  end_ms?: number;
  region?: Region;
  body?: string;
  kind?: Kind;
  tags?: string[];
  visibility?: Visibility;
  criterion?: string;
  level?: string;
  idempotency_key?: string;
}

/** AnnotationPatch changes an annotation; null clears end_ms, region, criterion, level. */
export interface AnnotationPatch {
  start_ms?: number;
  end_ms?: number | null;
  region?: Region | null;
  body?: string;
  kind?: Kind;
  tags?: string[];
  visibility?: Visibility;
  criterion?: string | null;
  level?: string | null;
  /** revision guards against lost updates (409 edit_conflict when stale). */
  revision?: number;
}

/** AnnotationQuery filters the list; every field is optional. */
export interface AnnotationQuery {
  from_ms?: number;
  to_ms?: number;
  criterion?: string;
  author?: string;
  tag?: string;
  visibility?: Visibility;
  kind?: Kind;
  q?: string;
  limit?: number;
  cursor?: string;
}

/** Level is one performance level of a criterion. */
export interface RubricLevel {
  key: string;
  label: string;
  score: number;
  descriptor?: string;
}

/** Criterion is what an annotation is coded against. */
export interface RubricCriterion {
  key: string;
  title: string;
  description?: string;
  levels: RubricLevel[];
}

/** Domain groups criteria. */
export interface RubricDomain {
  key: string;
  title: string;
  description?: string;
  criteria: RubricCriterion[];
}

/** RubricContent is what an editor changes; saving makes a new version. */
export interface RubricContent {
  title: string;
  description: string;
  domains: RubricDomain[];
}

/** Rubric is one version of a rubric. */
export interface Rubric extends RubricContent {
  id: string;
  group_id?: string;
  slug?: string;
  version: number;
  latest_version: number;
  created_at: string;
  version_created_at: string;
  archived_at?: string;
}

/** Summary counts a clip's annotations by kind and criterion. */
export interface Summary {
  clip_id: string;
  duration_ms: number;
  total: number;
  uncoded: number;
  by_kind: Partial<Record<Kind, number>>;
  criteria: Array<{
    key: string;
    title: string;
    count: number;
    scored: number;
    mean_score: number | null;
    levels: Array<{ key: string; label: string; score: number; count: number }>;
  }>;
  ranges: { count: number; covered_ms: number; covered_fraction: number | null };
}

/** GrowthBucket is one week or one clip of a growth series. */
export interface GrowthBucket {
  key: string;
  label: string;
  start: string;
  clips: number;
  clip_id?: string;
}

/** GrowthPoint is one criterion's codes in one bucket. */
export interface GrowthPoint {
  bucket: string;
  count: number;
  scored: number;
  mean_score: number | null;
}

/** Growth is a teacher's criterion codes and levels over time. */
export interface Growth {
  user_id: string;
  bucket: 'week' | 'clip';
  buckets: GrowthBucket[];
  criteria: Array<{ key: string; title: string; points: GrowthPoint[] }>;
}

/** Reflection is the clip owner's answers to the guided prompts. */
export interface Reflection {
  clip_id: string;
  author_id: string;
  went_well: string;
  to_change: string;
  evidence: string;
  status: 'draft' | 'submitted';
  submitted_at?: string;
  created_at: string;
  updated_at: string;
}

/** ReflectionAnswers are the three prompts' answers. */
export type ReflectionAnswers = Pick<Reflection, 'went_well' | 'to_change' | 'evidence'>;

/** ReflectionResponse carries the reflection (absent before the first save) and its prompts. */
export interface ReflectionResponse {
  reflection: Reflection | null;
  prompts: Record<keyof ReflectionAnswers, string>;
}

/** GoalCriterion ties a goal to one rubric criterion. */
export interface GoalCriterion {
  rubric_id: string;
  criterion: string;
}

/** Evidence is a clip (and optionally one annotation) showing progress on a goal. */
export interface Evidence {
  id: string;
  clip_id: string;
  annotation_id?: string;
  note?: string;
  added_by: string;
  created_at: string;
}

/** GoalStatus follows a goal through its life. */
export type GoalStatus = 'active' | 'achieved' | 'dropped';

/** Goal is a teacher's goal tied to criteria, with evidence over time. */
export interface Goal {
  id: string;
  owner_id: string;
  title: string;
  description: string;
  status: GoalStatus;
  criteria: GoalCriterion[];
  evidence: Evidence[];
  created_at: string;
  updated_at: string;
}

/** ExportFormat names one annotations export. */
export type ExportFormat = 'csv' | 'vtt' | 'jsonld' | 'report';

/** exportUrl is the address of a clip's annotations export (cookie authorized: a plain link). */
export function exportUrl(clipId: string, format: ExportFormat, opts: { track?: 'metadata' | 'chapters' } = {}): string {
  const q = new URLSearchParams({ format });
  if (opts.track) q.set('track', opts.track);
  return `/api/v1/clips/${seg(clipId)}/annotations/export?${q}`;
}

/** rubricExportUrl is the address of a rubric file (JSON or CSV). */
export function rubricExportUrl(rubricId: string, format: 'json' | 'csv', version?: number): string {
  const q = new URLSearchParams({ format });
  if (version) q.set('version', String(version));
  return `/api/v1/rubrics/${seg(rubricId)}/export?${q}`;
}

/** sessionLogUrl is the live session log of a clip (sync commands as JSON). */
export function sessionLogUrl(clipId: string): string {
  return `/api/v1/clips/${seg(clipId)}/live/log`;
}

/** CoachingApi wraps the app's Api with the coaching routes. */
export class CoachingApi {
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  annotations(clipId: string, query: AnnotationQuery = {}): Promise<{ items: Annotation[]; next_cursor?: string }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
    const qs = q.toString();
    return this.#api.request('GET', `/clips/${seg(clipId)}/annotations${qs ? `?${qs}` : ''}`);
  }

  /** allAnnotations follows next_cursor until every page is read (bounded by maxPages). */
  async allAnnotations(clipId: string, maxPages = 50): Promise<Annotation[]> {
    const out: Annotation[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < maxPages; i++) {
      const page = await this.annotations(clipId, { limit: 500, cursor });
      out.push(...page.items);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return out;
  }

  annotation(clipId: string, id: string): Promise<Annotation> {
    return this.#api.request('GET', `/clips/${seg(clipId)}/annotations/${seg(id)}`);
  }

  createAnnotation(clipId: string, input: AnnotationInput): Promise<Annotation> {
    return this.#api.request('POST', `/clips/${seg(clipId)}/annotations`, input);
  }

  updateAnnotation(clipId: string, id: string, patch: AnnotationPatch): Promise<Annotation> {
    return this.#api.request('PATCH', `/clips/${seg(clipId)}/annotations/${seg(id)}`, patch);
  }

  deleteAnnotation(clipId: string, id: string): Promise<Annotation> {
    return this.#api.request('DELETE', `/clips/${seg(clipId)}/annotations/${seg(id)}`);
  }

  restoreAnnotation(clipId: string, id: string): Promise<Annotation> {
    return this.#api.request('POST', `/clips/${seg(clipId)}/annotations/${seg(id)}/restore`);
  }

  createReply(clipId: string, annotationId: string, body: string, inReplyTo?: string): Promise<Reply> {
    const input: Record<string, string> = { body };
    if (inReplyTo) input.in_reply_to = inReplyTo;
    return this.#api.request('POST', `/clips/${seg(clipId)}/annotations/${seg(annotationId)}/replies`, input);
  }

  updateReply(clipId: string, annotationId: string, replyId: string, body: string): Promise<Reply> {
    return this.#api.request('PATCH', `/clips/${seg(clipId)}/annotations/${seg(annotationId)}/replies/${seg(replyId)}`, { body });
  }

  deleteReply(clipId: string, annotationId: string, replyId: string): Promise<Reply> {
    return this.#api.request('DELETE', `/clips/${seg(clipId)}/annotations/${seg(annotationId)}/replies/${seg(replyId)}`);
  }

  summary(clipId: string): Promise<Summary> {
    return this.#api.request('GET', `/clips/${seg(clipId)}/summary`);
  }

  growth(userId: string, bucket: 'week' | 'clip' = 'week'): Promise<Growth> {
    return this.#api.request('GET', `/users/${seg(userId)}/growth?bucket=${bucket}`);
  }

  /** reflection returns null for the reflection when none is written (or visible) yet. */
  async reflection(clipId: string): Promise<ReflectionResponse> {
    try {
      return await this.#api.request<ReflectionResponse>('GET', `/clips/${seg(clipId)}/reflection`);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return { reflection: null, prompts: DEFAULT_PROMPTS };
      throw err;
    }
  }

  saveReflection(clipId: string, answers: ReflectionAnswers): Promise<ReflectionResponse> {
    return this.#api.request('PUT', `/clips/${seg(clipId)}/reflection`, answers);
  }

  submitReflection(clipId: string): Promise<ReflectionResponse> {
    return this.#api.request('POST', `/clips/${seg(clipId)}/reflection/submit`);
  }

  rubrics(archived = false): Promise<{ items: Rubric[] }> {
    return this.#api.request('GET', `/rubrics${archived ? '?archived=true' : ''}`);
  }

  /** rubric reads one rubric; clipId lets a clip's viewers read the rubric it is coded with. */
  rubric(id: string, opts: { version?: number; clipId?: string } = {}): Promise<Rubric> {
    const q = new URLSearchParams();
    if (opts.version) q.set('version', String(opts.version));
    if (opts.clipId) q.set('clip_id', opts.clipId);
    const qs = q.toString();
    return this.#api.request('GET', `/rubrics/${seg(id)}${qs ? `?${qs}` : ''}`);
  }

  createRubric(content: RubricContent, groupId?: string): Promise<Rubric> {
    return this.#api.request('POST', '/rubrics', groupId ? { ...content, group_id: groupId } : content);
  }

  /** updateRubric saves a new version. */
  updateRubric(id: string, content: RubricContent): Promise<Rubric> {
    return this.#api.request('PUT', `/rubrics/${seg(id)}`, content);
  }

  archiveRubric(id: string): Promise<Rubric> {
    return this.#api.request('DELETE', `/rubrics/${seg(id)}`);
  }

  /** importRubric sends a rubric file as the server reads it (JSON or CSV). */
  importRubric(text: string, format: 'json' | 'csv', groupId?: string): Promise<Rubric> {
    const q = new URLSearchParams({ format });
    if (groupId) q.set('group_id', groupId);
    return this.#api.requestText('POST', `/rubrics/import?${q}`, text, format === 'csv' ? 'text/csv' : 'application/json');
  }

  /** updateClipRubric chooses the rubric a clip is coded with (the clip's owner). */
  async updateClipRubric(clipId: string, rubricId: string): Promise<Clip> {
    return (await this.#api.updateClip(clipId, { rubric_id: rubricId })).clip;
  }

  goals(userId?: string): Promise<{ items: Goal[] }> {
    return this.#api.request('GET', `/goals${userId ? `?user_id=${seg(userId)}` : ''}`);
  }

  createGoal(input: { title: string; description: string; criteria: GoalCriterion[] }): Promise<Goal> {
    return this.#api.request('POST', '/goals', input);
  }

  updateGoal(
    id: string,
    patch: { title?: string; description?: string; status?: GoalStatus; criteria?: GoalCriterion[] },
  ): Promise<Goal> {
    return this.#api.request('PATCH', `/goals/${seg(id)}`, patch);
  }

  addEvidence(goalId: string, input: { clip_id: string; annotation_id?: string; note?: string }): Promise<Goal> {
    return this.#api.request('POST', `/goals/${seg(goalId)}/evidence`, input);
  }
}

/** DEFAULT_PROMPTS are used until the server's own prompts are loaded. */
export const DEFAULT_PROMPTS: Record<keyof ReflectionAnswers, string> = {
  went_well: 'What went well in this lesson, and how do you know?',
  to_change: 'What would you change next time, and why?',
  evidence: 'Which moments in the clip show this? (Give times or link your annotations.)',
};
