import type { MartDef } from '../types.js';

/** Operational KPI marts (`marts.md`, "Operational KPIs"). */
export const KPI_MARTS: readonly MartDef[] = [];
