// All text the person sees lives in ./messages, one file per area of the app,
// so wording stays consistent and a translation only has to replace those
// tables. Messages use {name} placeholders.

import { audit } from './messages/audit';
import { captions } from './messages/captions';
import { coaching } from './messages/coaching';
import { core } from './messages/core';
import { media } from './messages/media';
import { privacyControls } from './messages/privacyControls';
import { redaction } from './messages/redaction';

const en = { ...core, ...audit, ...media, ...coaching, ...captions, ...privacyControls, ...redaction } as const;

/** MessageKey names one UI string; the compiler rejects unknown keys. */
export type MessageKey = keyof typeof en;

/** Params fill {placeholders} in a message. */
export type Params = Record<string, string | number>;

/**
 * t returns the English message for key with its {placeholders} filled.
 * Unknown placeholders are left visible so a missing param is noticed in review.
 */
export function t(key: MessageKey, params: Params = {}): string {
  const template: string = en[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

const plural = new Intl.PluralRules('en');

/** tn picks the `.one` or `.other` form of base for count (English rules). */
export function tn(base: 'groups.members' | 'list.replies' | 'growth.clips', count: number): string {
  const form = plural.select(count) === 'one' ? 'one' : 'other';
  return t(`${base}.${form}` as MessageKey, { count });
}

const dateTime = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

/** formatDateTime renders an RFC 3339 timestamp for people; bad input is shown as is. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

const dayFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeZone: 'UTC' });

/**
 * weekLabel names a growth bucket's week by its first day ("Week of Nov 23,
 * 2026") instead of the ISO form ("2026-W48"); start is the week's Monday
 * (UTC, as the server counts weeks).
 */
export function weekLabel(start: string, fallback: string): string {
  const d = new Date(start);
  return Number.isNaN(d.getTime()) ? fallback : t('growth.weekOf', { date: dayFormat.format(d) });
}

const shortDay = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** weekTick is a week's first day, short, for a chart axis ("Nov 23"). */
export function weekTick(start: string, fallback: string): string {
  const d = new Date(start);
  return Number.isNaN(d.getTime()) ? fallback : shortDay.format(d);
}

/** formatDuration renders milliseconds as m:ss or h:mm:ss, the way players show time. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
