// The staff area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "staff" key).
import type { Area } from "../types";
import { en, zhHans } from "./messages";

const meta = { requiresAuth: true, roles: ["staff"] };
// Supervisors follow the regional pushes too (read-only: the resend is staff's, and the API refuses it to others).
const readable = { requiresAuth: true, roles: ["staff", "supervisor"] };

export const area: Area = {
  routes: [
    { path: "/staff", redirect: { name: "staff-lots" } },
    { path: "/staff/lots", name: "staff-lots", component: () => import("./LotsPage.vue"), meta },
    { path: "/staff/lots/:id(\\d+)", name: "staff-lot", component: () => import("./LotPage.vue"), props: true, meta },
    { path: "/staff/reviews", name: "staff-reviews", component: () => import("./ReviewsPage.vue"), meta },
    { path: "/staff/draws", name: "staff-draws", component: () => import("./DrawsPage.vue"), meta },
    { path: "/staff/calendar", name: "staff-calendar", component: () => import("./CalendarPage.vue"), meta },
    { path: "/staff/regional", name: "staff-regional", component: () => import("./RegionalPage.vue"), meta: readable },
  ],
  nav: [
    { name: "staff-lots", label: "staff.nav.lots", roles: ["staff"] },
    { name: "staff-reviews", label: "staff.nav.reviews", roles: ["staff"] },
    { name: "staff-draws", label: "staff.nav.draws", roles: ["staff"] },
    { name: "staff-calendar", label: "staff.nav.calendar", roles: ["staff"] },
    { name: "staff-regional", label: "staff.nav.regional", roles: ["staff"] },
  ],
  messages: { "zh-hans": { staff: zhHans }, en: { staff: en } },
};
