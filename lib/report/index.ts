export { renderReport, escapeHtml, scriptJson, type RenderOptions } from './html.js';
export { prmChart, prmGateOf, prmTable, stepLabelsCell } from './prm.js';
export { pct, roundColumns, type RoundColumns } from './round-table.js';
export * from './charts.js';
export type * from './types.js';
