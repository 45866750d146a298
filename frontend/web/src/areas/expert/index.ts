// The expert area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "expert" key).
import type { Area } from "../types";

export const area: Area = {
  routes: [],
  nav: [],
  messages: { "zh-hans": { expert: {} }, en: { expert: {} } },
};
