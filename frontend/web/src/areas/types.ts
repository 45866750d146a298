// One area of the app per kind of user (bidder, expert, staff, supervisor): its pages, its menu entries and its
// strings live in its own folder, so areas grow without touching each other or the shell (router.ts, App.vue, i18n).
import type { RouteRecordRaw } from "vue-router";

export interface NavItem {
  /** Route name to link to. */
  name: string;
  /** i18n key of the label, e.g. "bidder.nav.bids". */
  label: string;
  /** Roles that see the entry (the routes themselves say the same in meta.roles). */
  roles: string[];
}

export interface Area {
  routes: RouteRecordRaw[];
  nav: NavItem[];
  /** Strings under the area's own top-level key, in both languages (the same keys in each). */
  messages: { "zh-hans": Record<string, unknown>; en: Record<string, unknown> };
}
