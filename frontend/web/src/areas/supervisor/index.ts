// The supervisor area: routes (meta.requiresAuth, meta.roles), menu entries and strings (under the "supervisor" key).
import type { Area } from "../types";
import { en, zhHans } from "./messages";

const meta = { requiresAuth: true, roles: ["supervisor"] };

export const area: Area = {
  routes: [
    { path: "/supervisor", redirect: { name: "supervisor-monitor" } },
    { path: "/supervisor/monitor/:lot(\\d+)?", name: "supervisor-monitor", component: () => import("./MonitorPage.vue"), props: true, meta },
    { path: "/supervisor/alerts", name: "supervisor-alerts", component: () => import("./AlertsPage.vue"), meta },
    { path: "/supervisor/audit", name: "supervisor-audit", component: () => import("./AuditPage.vue"), meta },
    { path: "/supervisor/statistics", name: "supervisor-statistics", component: () => import("./StatsPage.vue"), meta },
  ],
  nav: [
    { name: "supervisor-monitor", label: "supervisor.nav.monitor", roles: ["supervisor"] },
    { name: "supervisor-alerts", label: "supervisor.nav.alerts", roles: ["supervisor"] },
    { name: "supervisor-audit", label: "supervisor.nav.audit", roles: ["supervisor"] },
    { name: "supervisor-statistics", label: "supervisor.nav.statistics", roles: ["supervisor"] },
    // The regional pushes are a staff page (src/areas/staff) that supervisors read; listed here to sit in their menu.
    { name: "staff-regional", label: "staff.nav.regional", roles: ["supervisor"] },
  ],
  messages: { "zh-hans": { supervisor: zhHans }, en: { supervisor: en } },
};
