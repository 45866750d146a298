// The expert area: invitations (评标邀请) and the evaluation room (评标室), routes under /expert/, strings under "expert".
import type { Area } from "../types";
import { messages } from "./messages";

const meta = { requiresAuth: true, roles: ["expert"] };

export const area: Area = {
  routes: [
    { path: "/expert", redirect: { name: "expert-invitations" } },
    {
      path: "/expert/invitations",
      name: "expert-invitations",
      component: () => import("./InvitationsPage.vue"),
      meta,
    },
    {
      path: "/expert/rooms/:lot(\\d+)",
      name: "expert-room",
      component: () => import("./RoomPage.vue"),
      props: (route) => ({ lot: Number(route.params.lot) }),
      meta,
    },
  ],
  nav: [{ name: "expert-invitations", label: "expert.nav.invitations", roles: ["expert"] }],
  messages,
};
