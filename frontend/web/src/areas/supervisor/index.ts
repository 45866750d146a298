// The supervisor area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "supervisor" key).
import type { Area } from "../types";

export const area: Area = {
  routes: [],
  nav: [],
  messages: { "zh-hans": { supervisor: {} }, en: { supervisor: {} } },
};
