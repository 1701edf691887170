export { renderReport, reportCharts, escapeHtml, scriptJson, type RenderOptions } from './html.js';
export * from './charts.js';
export type * from './types.js';
