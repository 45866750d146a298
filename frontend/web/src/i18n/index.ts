// Chinese first; the user's choice persists in localStorage. Times are always shown in Asia/Shanghai.
import { computed } from "vue";
import { createI18n } from "vue-i18n";

import { setApiLocale, type Locale } from "@/api/client";
import { areas } from "@/areas";
import { en, zhHans } from "./messages";

export const LOCALES: Locale[] = ["zh-hans", "en"];
const STORAGE_KEY = "trading.locale";
export const TIME_ZONE = "Asia/Shanghai";

export function storedLocale(): Locale {
  const saved = typeof localStorage === "undefined" ? null : localStorage.getItem(STORAGE_KEY);
  return saved === "en" ? "en" : "zh-hans";
}

export const i18n = createI18n({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: "zh-hans",
  // The shell's strings, then each area's under its own key.
  messages: {
    "zh-hans": Object.assign({}, zhHans, ...areas.map((area) => area.messages["zh-hans"])),
    en: Object.assign({}, en, ...areas.map((area) => area.messages.en)),
  },
});

export const locale = computed<Locale>(() => i18n.global.locale.value as Locale);

export function applyLocale(next: Locale): void {
  i18n.global.locale.value = next;
  localStorage.setItem(STORAGE_KEY, next);
  setApiLocale(next);
  document.documentElement.lang = next === "en" ? "en" : "zh-CN";
  const app = (next === "en" ? en : zhHans).app;
  document.title = `${app.centre} · ${app.platform}`;
}

/** "2026-11-25 14:30" in Beijing time, whatever the browser's zone (ISO strings from the API carry their offset). */
export function formatTime(value: string | Date | null | undefined, withSeconds = false): string {
  if (!value) return "";
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined,
    hourCycle: "h23",
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const time = `${get("hour")}:${get("minute")}` + (withSeconds ? `:${get("second")}` : "");
  return `${get("year")}-${get("month")}-${get("day")} ${time}`;
}

/** The instant a Beijing calendar day starts, as an ISO string for the API's date filters ("2026-11-25"). */
export function beijingDayStart(day: string): string {
  return `${day}T00:00:00+08:00`;
}

/** The day after `day` (YYYY-MM-DD), for exclusive upper bounds. */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  return next.toISOString().slice(0, 10);
}
