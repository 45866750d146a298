// The opening hall (不见面开标大厅), an area of its own: every party of an opening (its bidders, the tenderee side,
// staff and supervisors) opens /opening/<lot>/ and sees what the API and the room show it. Strings under "opening".
import type { Area } from "../types";
import { en, zhHans } from "./messages";

const roles = ["bidder", "tenderee", "agency", "staff", "supervisor"];
const meta = { requiresAuth: true, roles };

export const area: Area = {
  routes: [
    { path: "/opening", name: "opening-list", component: () => import("./HallList.vue"), meta },
    { path: "/opening/:lot(\\d+)", name: "opening-hall", component: () => import("./HallPage.vue"), props: true, meta },
  ],
  nav: [{ name: "opening-list", label: "opening.nav.hall", roles }],
  messages: { "zh-hans": { opening: zhHans }, en: { opening: en } },
};
