// The typed client of the captions API (media/captions_http.go): a clip's
// caption job state and tracks, cues for the editor, uploads, revert, the
// word-level transcript, and transcript search. Every call goes through
// Api.request / Api.requestText, so the CSRF header and error handling are
// the same as everywhere else.

import type { Api } from './api';

/** CaptionJobStatus is where the automatic captions job of a clip is. */
export type CaptionJobStatus = 'pending' | 'running' | 'ready' | 'none' | 'failed';

/** CaptionTrackState is one language's captions of a clip. */
export interface CaptionTrackState {
  lang: string;
  label: string;
  /** current is the version players get. */
  current: 'machine' | 'edited';
  has_machine: boolean;
  has_edited: boolean;
  engine?: string;
  /** cues counts the cues of the current version. */
  cues: number;
  edited_by?: { id: string; name: string };
  /** path is the current version's WebVTT under the clip's media route. */
  path: string;
  created_at: string;
  updated_at: string;
}

/** CaptionState is a clip's captioning: the job and the tracks. */
export interface CaptionState {
  status: CaptionJobStatus;
  /** progress is 0–100 while the job runs. */
  progress: number;
  /** reason says why there are no automatic captions (none, failed, retrying). */
  reason?: string;
  /** parts counts the pieces the audio was cut into while captions are made in parts (0 otherwise). */
  parts?: number;
  /** parts_done counts the finished parts; their cues are in the machine track already. */
  parts_done?: number;
  tracks: CaptionTrackState[];
}

/**
 * Cue is one caption cue. `text` is WebVTT cue text (see cueTextForEditing
 * and cueTextForSaving in captionEdit.ts for what people type).
 */
export interface Cue {
  id?: string;
  start_ms: number;
  end_ms: number;
  settings?: string;
  text: string;
}

/** TranscriptWord is one spoken word with its time in the clip. */
export interface TranscriptWord {
  start_ms: number;
  end_ms: number;
  text: string;
  /** confidence is the engine's posterior in [0, 1]; 1 for uploaded tracks. */
  confidence: number;
}

/** Transcript is the word-level transcript of one track's version. */
export interface Transcript {
  version: number;
  engine?: string;
  language?: string;
  words: TranscriptWord[];
}

/** TranscriptHit is one place where searched words are spoken. */
export interface TranscriptHit {
  clip_id: string;
  title: string;
  lang: string;
  /** time_ms is where the first matching word starts: seek here. */
  time_ms: number;
  start_ms: number;
  end_ms: number;
  /** snippet is plain text: the stretch of speech around the hit. */
  snippet: string;
}

/** TranscriptPage is one page of search hits, best first. */
export interface TranscriptPage {
  hits: TranscriptHit[];
  next_offset?: number;
}

const seg = (s: string) => encodeURIComponent(s);

/** captionFileUrl is the URL that downloads a track as WebVTT (or SubRip). */
export function captionFileUrl(clipId: string, lang: string, format: 'vtt' | 'srt' = 'vtt'): string {
  return `/api/v1/clips/${seg(clipId)}/captions/${seg(lang)}.${format}`;
}

/** captionContentType is the Content-Type to upload a caption file's text with. */
export function captionContentType(filename: string): string {
  return /\.srt$/i.test(filename.trim()) ? 'application/x-subrip' : 'text/vtt';
}

/** CaptionsApi wraps the captions endpoints of one Api client. */
export class CaptionsApi {
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  /** state is the caption job and the tracks of a clip. */
  async state(clipId: string): Promise<CaptionState> {
    const res = await this.#api.request<{ captions: CaptionState }>('GET', `/clips/${seg(clipId)}/captions`);
    return { ...res.captions, tracks: res.captions.tracks ?? [] };
  }

  /** cues reads a track's current version as cues, with the track. */
  cues(clipId: string, lang: string): Promise<{ lang: string; version: string; track: CaptionTrackState; cues: Cue[] }> {
    return this.#api.request('GET', `/clips/${seg(clipId)}/captions/${seg(lang)}/cues`);
  }

  /**
   * saveCues stores cues as the language's edited version. The server
   * refuses bad tracks with a message that names the cue ("cue 3 …").
   */
  async saveCues(clipId: string, lang: string, cues: readonly Cue[]): Promise<CaptionTrackState> {
    const res = await this.#api.request<{ track: CaptionTrackState }>('PUT', `/clips/${seg(clipId)}/captions/${seg(lang)}/cues`, { cues });
    return res.track;
  }

  /**
   * upload stores a WebVTT or SubRip file's text as the edited version;
   * normalize trims overlaps and sorts cues instead of refusing them.
   */
  async upload(clipId: string, lang: string, text: string, contentType: string, normalize = false): Promise<CaptionTrackState> {
    const q = normalize ? '?normalize=true' : '';
    const res = await this.#api.requestText<{ track: CaptionTrackState }>(
      'PUT',
      `/clips/${seg(clipId)}/captions/${seg(lang)}${q}`,
      text,
      contentType,
    );
    return res.track;
  }

  /** revert makes the automatic version current again (the edit stays stored). */
  async revert(clipId: string, lang: string): Promise<CaptionTrackState> {
    const res = await this.#api.request<{ track: CaptionTrackState }>('POST', `/clips/${seg(clipId)}/captions/${seg(lang)}/revert`);
    return res.track;
  }

  /**
   * generate asks for the automatic captions again (the owner only). The
   * server refuses with a reason when it cannot work: still processing, no
   * sound, no speech engine, or captions already under way.
   */
  async generate(clipId: string): Promise<CaptionState> {
    const res = await this.#api.request<{ captions: CaptionState }>('POST', `/clips/${seg(clipId)}/captions/generate`);
    return { ...res.captions, tracks: res.captions.tracks ?? [] };
  }

  /** transcript is the word-level transcript of a track's current version. */
  async transcript(clipId: string, lang: string): Promise<Transcript> {
    const res = await this.#api.request<{ version: string; transcript: Transcript }>(
      'GET',
      `/clips/${seg(clipId)}/captions/${seg(lang)}/transcript`,
    );
    return { ...res.transcript, words: res.transcript.words ?? [] };
  }

  /** search finds spoken words in the transcripts of the clips one may watch. */
  async search(q: string, limit = 10): Promise<TranscriptPage> {
    const params = new URLSearchParams({ q, limit: String(limit) });
    const res = await this.#api.request<TranscriptPage>('GET', `/search/transcripts?${params}`);
    return { ...res, hits: res.hits ?? [] };
  }
}
