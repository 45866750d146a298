// The bidder area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "bidder" key).
import type { Area } from "../types";

export const area: Area = {
  routes: [],
  nav: [],
  messages: { "zh-hans": { bidder: {} }, en: { bidder: {} } },
};
