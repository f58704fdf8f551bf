// How figures and times read: numbers grouped the reader's way, times in
// the browser's own zone (the zone the charts are asked in as well).
import { html } from '../../vendor/htm-3.1.1/standalone.module.js';

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const integer = new Intl.NumberFormat();
const percent = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const shortWhen = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const hour = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const dayMonthYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const monthYear = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric' });

export const number = (n) => integer.format(n);
export const percentage = (p) => `${percent.format(p)}%`;
export const dateTime = (iso) => when.format(new Date(iso));
export const shortDateTime = (iso) => shortWhen.format(new Date(iso));
export const time = (iso) => hour.format(new Date(iso));

// A figure with its raw value beside the formatted one, for scripts and tests.
export const figure = (field, value) => html`<span data-field=${field} data-value=${value}>${number(value)}</span>`;

export function money(cents) {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' }).format(cents / 100);
}

// A period's start as a chart labels it.
export function period(iso, interval, withYear = false) {
  const date = new Date(iso);
  if (interval === 'MONTH') return monthYear.format(date);
  return (withYear ? dayMonthYear : dayMonth).format(date);
}

// "in 3 h 20 min" until `iso`.
export function untilNow(iso, now = Date.now()) {
  const minutes = Math.max(0, Math.round((new Date(iso).getTime() - now) / 60_000));
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `in ${hours} h ${minutes % 60} min` : `in ${hours} h`;
}

// A local calendar date as `YYYY-MM-DD` (what <input type=date> holds).
export function localDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// `YYYY-MM-DD` as the local midnight that starts it, or null.
export function parseLocalDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? '');
  if (!match) return null;
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(date.getTime()) ? null : date;
}
