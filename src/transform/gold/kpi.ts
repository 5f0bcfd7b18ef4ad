import type { GoldModel } from './model.js';

/** Operational KPI marts' models (kpi_daily_usage, kpi_funnel, kpi_retention). */
export const KPI_MODELS: readonly GoldModel[] = [];
