// Small helpers shared by the forms: client-side checks that mirror what the
// server will say, so people see problems before a round trip.

import { isApiError } from './api';
import { t } from './i18n';

/** FieldErrors maps a field name to the message shown next to it. */
export type FieldErrors = Record<string, string>;

/** required adds a "required" error for each empty field. */
export function required(values: Record<string, string>, errors: FieldErrors = {}): FieldErrors {
  for (const [name, value] of Object.entries(values)) {
    if (!value.trim() && !errors[name]) errors[name] = t('field.required');
  }
  return errors;
}

/** looksLikeEmail is a deliberately loose check; the server has the final word. */
export function looksLikeEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(value.trim());
}

/** FormFailure is what a form shows after a failed submit. */
export interface FormFailure {
  message: string;
  fields: FieldErrors;
}

/**
 * failureFrom turns any thrown value into a message and field errors. When
 * every field error belongs to a field the form shows (`shown`), the summary
 * just points at them instead of repeating each message.
 */
export function failureFrom(err: unknown, shown: readonly string[] = []): FormFailure {
  if (isApiError(err)) {
    const fields = { ...err.fields };
    const names = Object.keys(fields);
    const allShown = names.length > 0 && names.every((n) => shown.includes(n));
    return { message: allShown ? t('error.formSummary') : err.message, fields };
  }
  return { message: t('error.unexpected'), fields: {} };
}

/**
 * focusFirstInvalid moves keyboard focus to the first field marked invalid
 * in form, so screen reader and keyboard users land on the problem.
 */
export function focusFirstInvalid(form: HTMLFormElement | undefined): void {
  const el = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
  el?.focus();
}
