// Every area, in menu order. Adding an area: a folder with index.ts exporting `area`, listed here.
import { area as bidder } from "./bidder";
import { area as expert } from "./expert";
import { area as opening } from "./opening";
import { area as staff } from "./staff";
import { area as supervisor } from "./supervisor";
import type { Area } from "./types";

export const areas: Area[] = [bidder, expert, staff, supervisor, opening];
