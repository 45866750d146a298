// The staff area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "staff" key).
import type { Area } from "../types";

export const area: Area = {
  routes: [],
  nav: [],
  messages: { "zh-hans": { staff: {} }, en: { staff: {} } },
};
