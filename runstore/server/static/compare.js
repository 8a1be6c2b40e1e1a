// Two or more runs side by side: what `runstore diff` shows (config, summary and metadata that differ),
// and their metrics overlaid.

import { get } from "./api.js";
import { h, clear, link, fmt, badge } from "./dom.js";
import { setCrumbs } from "./app.js";
import { fromBuckets } from "./chart.js";
import { ChartGrid, controls, defaultSettings } from "./grid.js";
import { bucketsFor } from "./project.js";

export async function comparePage(main, [project], params) {
  const P = encodeURIComponent(project);
  const ids = (params.get("runs") || "").split(",").filter(Boolean);
  setCrumbs(link(`#/p/${P}`, project), "compare");
  if (ids.length < 2) {
    clear(main, h("p", { class: "error" }, "Pick two or more runs to compare (select them in the project's table)."));
    return;
  }
  const [diff, table] = await Promise.all([
    get(`/projects/${P}/diff`, { runs: ids }),
    get(`/projects/${P}/table`, { filter: [JSON.stringify({ id: { $in: ids } })] }),
  ]);
  const byId = new Map(table.runs.map((r) => [r.id, r]));
  const runs = diff.runs.map((id) => byId.get(id) || { id, name: id, state: "", summary: {} });
  const name = (r) => r.name || r.id;
  const head = h("tr", {}, h("th", {}, ""), runs.map((r) =>
    h("th", {}, link(`#/p/${P}/r/${encodeURIComponent(r.id)}`, name(r)), " ", badge(r.state))));
  const section = (title, rows) => [
    h("tr", { class: "group-row" }, h("td", { colspan: runs.length + 1 }, `${title} (${Object.keys(rows).length} differ)`)),
    Object.entries(rows).map(([k, vals]) => h("tr", { class: "diff-row" }, h("th", {}, k),
      vals.map((v) => h("td", { class: v === null ? "absent" : "" }, v === null ? "—" : fmt(v))))),
  ];
  const settings = defaultSettings();
  const settingsBox = h("div", {});
  const chartsBox = h("div", {});
  clear(main, h("h1", {}, `Compare ${runs.length} runs`),
    h("table", { class: "grid compare" }, h("thead", {}, head),
      h("tbody", {}, section("config", diff.config), section("summary", diff.summary), section("metadata", diff.metadata))),
    h("h2", {}, "Charts"), settingsBox, chartsBox);
  const names = new Set();
  for (const r of runs) for (const [k, v] of Object.entries(r.summary || {})) if (typeof v === "number") names.add(k);
  const hidden = new Set(runs.flatMap((r) => Object.entries(r.metrics || {}).filter(([, d]) => d.hidden).map(([k]) => k)));
  const metrics = [...names].filter((n) => !hidden.has(n)).sort().map((n) => ({ name: n }));
  const grid = new ChartGrid(chartsBox, { settings, load: async (metric, xAxis, range) => {
    const out = await get(`/projects/${P}/overlay`, { key: metric.name, runs: runs.map((r) => r.id), buckets: bucketsFor(runs.length), x_axis: xAxis,
      min_step: range ? range.min_step : undefined, max_step: range ? range.max_step : undefined });
    return runs.map((r, i) => (out.runs[r.id] ? fromBuckets(out.runs[r.id], name(r), i) : null)).filter(Boolean);
  } });
  settingsBox.append(controls(settings, metrics.map((m) => m.name), (s, what) => grid.apply(s, what)));
  grid.setMetrics(metrics);
  return () => grid.destroy();
}
