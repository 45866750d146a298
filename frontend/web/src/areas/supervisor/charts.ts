// ECharts, with only the parts the dashboard draws (tree-shaken), and the pure builders of its options.
import { BarChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { use } from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

use([CanvasRenderer, BarChart, PieChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent]);

export interface LotStatistics {
  lot: number;
  session: number | null;
  phase?: string;
  phase_seconds?: Record<string, number>;
  total_seconds?: number | null;
  total_human?: string | null;
  bids?: { received: number; opened: number; rejected: Record<string, number>; valid: number };
  first_candidate?: {
    bidder: string;
    price: string | number;
    savings_vs_max_price: { reference: string | number; amount: string | number; percent: string | number } | null;
    savings_vs_estimated_price: { reference: string | number; amount: string | number; percent: string | number } | null;
  } | null;
}

export const PHASES = ["sign_in", "declaration", "chair_election", "qualification", "compliance", "scoring", "price", "summary", "report"];

export function rejectedCount(stats: LotStatistics): number {
  return Object.values(stats.bids?.rejected ?? {}).reduce((a, b) => a + b, 0);
}

/** The savings of the first candidate: against the maximum price when there is one, else the estimate. */
export function savingsOf(stats: LotStatistics): { amount: number; percent: number } | null {
  const s = stats.first_candidate?.savings_vs_max_price ?? stats.first_candidate?.savings_vs_estimated_price ?? null;
  return s ? { amount: Number(s.amount), percent: Number(s.percent) } : null;
}

export interface Totals {
  lots: number;
  evaluated: number;
  received: number;
  valid: number;
  rejected: number;
  savings: number;
}

export function totals(lotCount: number, stats: LotStatistics[]): Totals {
  const withSession = stats.filter((s) => s.session !== null);
  return {
    lots: lotCount,
    evaluated: withSession.length,
    received: withSession.reduce((sum, s) => sum + (s.bids?.received ?? 0), 0),
    valid: withSession.reduce((sum, s) => sum + (s.bids?.valid ?? 0), 0),
    rejected: withSession.reduce((sum, s) => sum + rejectedCount(s), 0),
    savings: withSession.reduce((sum, s) => sum + (savingsOf(s)?.amount ?? 0), 0),
  };
}
