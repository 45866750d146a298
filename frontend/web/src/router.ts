// Pages. A page that needs a login sets meta.requiresAuth (and meta.roles to restrict it); the guard sends
// anonymous users to /login?next=... . Paths must not start with api/, admin/, ws/ or static/ (those are Django's).
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

import { areas } from "@/areas";
import { useSession } from "@/stores/session";

declare module "vue-router" {
  interface RouteMeta {
    requiresAuth?: boolean;
    roles?: string[];
  }
}

const routes: RouteRecordRaw[] = [
  { path: "/", name: "notices", component: () => import("@/pages/NoticeList.vue") },
  { path: "/notices/:id(\\d+)", name: "notice", component: () => import("@/pages/NoticeDetail.vue"), props: true },
  { path: "/verify/:code?", name: "verify", component: () => import("@/pages/LetterVerify.vue"), props: true },
  { path: "/login", name: "login", component: () => import("@/pages/LoginPage.vue") },
  ...areas.flatMap((area) => area.routes),
  { path: "/:path(.*)*", name: "not-found", component: () => import("@/pages/NotFound.vue") },
];

export const router = createRouter({ history: createWebHistory("/"), routes });

router.beforeEach(async (to) => {
  const session = useSession();
  if (!session.loaded) await session.load().catch(() => null);
  if (to.meta.requiresAuth && !session.user) return { name: "login", query: { next: to.fullPath } };
  if (to.meta.roles && session.user && !to.meta.roles.includes(session.user.role)) return { name: "not-found" };
  return true;
});
