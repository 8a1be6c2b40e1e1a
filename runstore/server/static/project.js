// A project: the runs table (sort, filter with `runstore ls --filter` expressions, group by a config
// key, choose columns, select runs) and a chart for every metric with the selected runs overlaid.

import { get } from "./api.js";
import { h, clear, link, fmt, fmtTime, fmtDuration, badge } from "./dom.js";
import { setCrumbs, showError } from "./app.js";
import { color, fromBuckets, aggregate } from "./chart.js";
import { ChartGrid, controls, defaultSettings } from "./grid.js";
import { Follow } from "./live.js";

const DEFAULT_SELECTED = 10;
const ROW_HEIGHT = 27;  // px: style.css gives every row of the runs table this height
const BUCKETS = 1000;
const LIVE_STATES = new Set(["running"]);

export const runLabel = (r) => r.name || r.id;

// Buckets per run of an overlay: a chart is a few hundred pixels wide, so many runs share the points a
// few runs get each (100 runs' loss is 30,000 points, not 100,000).
export const bucketsFor = (runs) => Math.max(200, Math.min(BUCKETS, Math.floor(30_000 / Math.max(1, runs))));

export async function projectPage(main, [project], params) {
  const P = encodeURIComponent(project);
  setCrumbs(link(`#/p/${P}`, project), link(`#/p/${P}/artifacts`, "artifacts"));
  const state = {
    filter: params.get("filter") || "",
    sort: { key: "created", desc: true },
    groupBy: params.get("group") ? `config:${params.get("group")}` : "",
    columns: null,  // chosen config/summary columns; null: the defaults
    selected: new Set(),
    rows: [],
    settings: defaultSettings(),
  };
  const stops = [];
  const tableBox = h("div", { class: "runs-table" });
  const info = h("span", { class: "muted" });
  const filterBox = h("input", { type: "search", class: "filter", placeholder: "filter: config.lr>0.01, state=finished, name~^exp",
    value: state.filter, onkeydown: (e) => { if (e.key === "Enter") { state.filter = filterBox.value; loadRows(); } } });
  const groupSel = h("select", { class: "group-by", onchange: () => { state.groupBy = groupSel.value; renderTable(); refreshCharts(); } });
  const colsBox = h("details", { class: "columns" }, h("summary", {}, "Columns"));
  const compareBtn = h("button", { class: "compare", onclick: () => {
    const ids = [...state.selected];
    if (ids.length >= 2) location.hash = `#/p/${P}/compare?runs=${ids.map(encodeURIComponent).join(",")}`;
  } }, "Compare selected");
  const chartsBox = h("div", {});
  const settingsBox = h("div", {});
  clear(main,
    h("h1", {}, project),
    h("div", { class: "toolbar" }, filterBox, h("label", {}, "Group by ", groupSel), colsBox, compareBtn, info),
    tableBox, settingsBox, chartsBox);

  const grid = new ChartGrid(chartsBox, { settings: state.settings, load: loadSeries });

  // -- the table ------------------------------------------------------------------------------------
  async function loadRows() {
    try {
      const filter = state.filter.trim() ? [state.filter.trim()] : [];
      const { runs, total } = await get(`/projects/${P}/table`, { filter });
      const first = !state.rows.length;
      state.rows = runs;
      info.textContent = `${total} run${total === 1 ? "" : "s"}`;
      const ids = new Set(runs.map((r) => r.id));
      for (const id of [...state.selected]) if (!ids.has(id)) state.selected.delete(id);
      if (first || !state.selected.size) runs.slice(0, DEFAULT_SELECTED).forEach((r) => state.selected.add(r.id));
      fillChoosers();
      refreshCharts();  // the charts' requests leave before the table is laid out
      renderTable();
    } catch (e) {
      showError(tableBox, e);
    }
  }

  function keysOf(kind) {
    const seen = new Map();
    for (const r of state.rows) for (const k of Object.keys(r[kind] || {})) seen.set(k, (seen.get(k) || 0) + 1);
    return [...seen.keys()];
  }

  function fillChoosers() {
    const cfg = keysOf("config");
    clear(groupSel, h("option", { value: "" }, "(none)"),
      h("option", { value: "group", selected: state.groupBy === "group" }, "group (init(group=))"),
      cfg.map((k) => h("option", { value: `config:${k}`, selected: `config:${k}` === state.groupBy }, k)));
    if (!state.columns) {
      // what tells runs apart first (as `runstore ls` picks its columns): keys whose values differ
      const varies = (kind) => (k) => new Set(state.rows.map((r) => fmt((r[kind] || {})[k]))).size > 1;
      const pick = (kind, keys) => [...keys.filter(varies(kind)), ...keys.filter((k) => !varies(kind)(k))];
      state.columns = [...pick("config", cfg).slice(0, 5).map((k) => `config.${k}`),
        ...pick("summary", keysOf("summary").filter(numericSummary)).slice(0, 5).map((k) => `summary.${k}`)];
    }
    const box = h("div", { class: "column-list" });
    for (const kind of ["config", "summary"]) {
      for (const k of keysOf(kind)) {
        const id = `${kind}.${k}`;
        box.append(h("label", {}, h("input", { type: "checkbox", checked: state.columns.includes(id), onchange: (e) => {
          state.columns = e.target.checked ? [...state.columns, id] : state.columns.filter((c) => c !== id);
          renderTable();
        } }), id));
      }
    }
    clear(colsBox, h("summary", {}, "Columns"), box);
  }

  // what a run is grouped by: "group", the run's own (wandb's default grouping), or "config:KEY"
  const groupOf = (r) => fmt(state.groupBy === "group" ? r.group : r.config[state.groupBy.slice(7)]);
  const groupName = () => (state.groupBy === "group" ? "group" : state.groupBy.slice(7));

  const numericSummary = (k) => state.rows.some((r) => typeof (r.summary || {})[k] === "number");
  const cell = (r, col) => {
    const [kind, ...rest] = col.split(".");
    return (r[kind] || {})[rest.join(".")];
  };

  const FIXED = [
    ["name", "Name", (r) => runLabel(r)], ["state", "State", (r) => r.state], ["created", "Created", (r) => r.created],
    ["runtime", "Runtime", (r) => r.runtime], ["tags", "Tags", (r) => (r.tags || []).join(", ")], ["group", "Group", (r) => r.group],
  ];

  function sortedRows() {
    const { key, desc } = state.sort;
    const fixed = FIXED.find((f) => f[0] === key);
    const val = (r) => (fixed ? fixed[2](r) : cell(r, key));
    const rows = [...state.rows];
    rows.sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === y) return 0;
      if (x === undefined || x === null) return 1;  // missing values last, either way
      if (y === undefined || y === null) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    });
    if (state.groupBy) {
      const g = groupOf;
      rows.sort((a, b) => g(a).localeCompare(g(b)));
    }
    return rows;
  }

  // Only the rows in view (and a screenful either side) are in the DOM: a table of 1,000 or 20,000 runs
  // lays out as fast as one of 50. Rows have one fixed height (style.css), so a row's place is a product.
  function renderTable() {
    const cols = [...FIXED.map(([k, label]) => [k, label]), ...state.columns.map((c) => [c, c])];
    const head = h("tr", {}, h("th", {}, h("input", { type: "checkbox", title: "select all shown",
      checked: state.rows.length > 0 && state.rows.every((r) => state.selected.has(r.id)),
      onchange: (e) => { state.rows.forEach((r) => (e.target.checked ? state.selected.add(r.id) : state.selected.delete(r.id))); renderTable(); refreshCharts(); } })),
      cols.map(([k, label]) => h("th", { class: "sortable", dataset: { key: k }, onclick: () => {
        state.sort = { key: k, desc: state.sort.key === k ? !state.sort.desc : false }; renderTable();
      } }, label, state.sort.key === k ? (state.sort.desc ? " ▼" : " ▲") : "")));
    const order = sortedRows();
    const colorIdx = new Map(order.filter((r) => state.selected.has(r.id)).map((r, i) => [r.id, i]));
    const items = [];  // what the table shows, in order: group headers and runs
    if (state.groupBy) {
      const count = new Map();
      for (const r of order) { const g = groupOf(r); count.set(g, (count.get(g) || 0) + 1); }
      let last = null;
      for (const r of order) {
        const g = groupOf(r);
        if (g !== last) { last = g; items.push({ group: g, n: count.get(g) }); }
        items.push({ run: r });
      }
    } else {
      for (const r of order) items.push({ run: r });
    }
    const rowOf = (it) => {
      if (it.group !== undefined) {
        return h("tr", { class: "group-row" }, h("td", { colspan: cols.length + 1 },
          `${groupName()} = ${it.group || "(none)"} · ${it.n} run${it.n === 1 ? "" : "s"}`));
      }
      const r = it.run, sel = state.selected.has(r.id);
      return h("tr", { class: sel ? "selected" : "", dataset: { id: r.id } },
        h("td", {}, h("input", { type: "checkbox", checked: sel, onchange: (e) => {
          if (e.target.checked) state.selected.add(r.id); else state.selected.delete(r.id);
          renderTable(); refreshCharts();
        } }), sel && !state.groupBy ? h("span", { class: "swatch", style: { background: color(colorIdx.get(r.id)) } }) : null),
        h("td", { class: "name" }, link(`#/p/${P}/r/${encodeURIComponent(r.id)}`, runLabel(r))),
        h("td", {}, badge(r.state)),
        h("td", {}, fmtTime(r.created)),
        h("td", {}, fmtDuration(r.runtime)),
        h("td", {}, (r.tags || []).map((t) => h("span", { class: "tag" }, t))),
        h("td", {}, r.group || ""),
        state.columns.map((c) => h("td", { class: "num" }, fmt(cell(r, c)))));
    };
    const spacer = (px) => h("tr", { class: "spacer", style: { height: `${px}px` } }, h("td", { colspan: cols.length + 1 }));
    const body = h("tbody", {});
    const draw = () => {
      // before its rows are in, the box is only as tall as its header: a window's height is plenty
      const view = Math.max(tableBox.clientHeight, window.innerHeight || 800);
      const first = Math.max(0, Math.floor(tableBox.scrollTop / ROW_HEIGHT) - Math.ceil(view / ROW_HEIGHT));
      const end = Math.min(items.length, first + 3 * Math.ceil(view / ROW_HEIGHT) + 1);
      clear(body, first ? spacer(first * ROW_HEIGHT) : null, items.slice(first, end).map(rowOf),
        end < items.length ? spacer((items.length - end) * ROW_HEIGHT) : null);
    };
    let pending = false;
    tableBox.onscroll = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; draw(); });
    };
    tableBox.dataset.runs = String(order.length);  // the rows the table holds (the DOM has those in view)
    const keep = tableBox.scrollTop;
    clear(tableBox, h("table", { class: "grid" }, h("thead", {}, head), body));
    tableBox.scrollTop = keep;
    draw();
  }

  // -- the charts -----------------------------------------------------------------------------------
  const selectedRows = () => sortedRows().filter((r) => state.selected.has(r.id));

  function metricsOf(rows) {
    const hidden = new Set(), steps = {}, names = new Set();
    for (const r of rows) {
      for (const [k, v] of Object.entries(r.summary || {})) if (typeof v === "number") names.add(k);
      for (const [k, d] of Object.entries(r.metrics || {})) {
        if (d.hidden) hidden.add(k);
        if (d.step_metric) steps[k] = d.step_metric;
      }
    }
    return [...names].filter((n) => !hidden.has(n)).sort().map((name) => ({ name, step_metric: steps[name] }));
  }

  let metricNames = [];
  async function refreshCharts() {
    await noteLive();  // where a live run's history ends before its charts are read: no rows between
    const rows = selectedRows();
    const metrics = metricsOf(rows);
    const names = metrics.map((m) => m.name);
    if (names.join("\n") !== metricNames.join("\n")) {
      metricNames = names;
      clear(settingsBox, controls(state.settings, names, onSettings));
    }
    grid.setMetrics(metrics);
    followLive();
  }

  const onSettings = (s, what) => grid.apply(s, what);

  // One request per chart, whatever the number of runs (overlay): each run's buckets of this metric.
  async function loadSeries(metric, xAxis, range) {
    const rows = selectedRows();
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const out = await get(`/projects/${P}/overlay`, { key: metric.name, runs: ids, buckets: bucketsFor(ids.length), x_axis: xAxis,
      min_step: range ? range.min_step : undefined, max_step: range ? range.max_step : undefined });
    const series = rows.map((r, i) => (out.runs[r.id] ? fromBuckets(out.runs[r.id], runLabel(r), i) : null)).filter(Boolean);
    if (!state.groupBy) return series;
    const groups = new Map();
    rows.forEach((r, i) => {
      if (!series[i]) return;
      const g = groupOf(r) || "(none)";
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(series.find((s) => s.label === runLabel(r)));
    });
    return [...groups.entries()].map(([g, list], i) => aggregate(list.filter(Boolean), `${groupName()}=${g} (${list.length})`, i));
  }

  // -- live runs ------------------------------------------------------------------------------------
  // A running run's new history rows are read from where the charts' data ended (byte offsets), not
  // the whole history again; the table is re-read every few seconds while any run is live.
  const follows = new Map();
  const ends = new Map();  // run id -> its history's {url, size} taken before its charts were read
  const liveSelected = () => state.rows.filter((r) => LIVE_STATES.has(r.state) && state.selected.has(r.id));
  async function noteLive() {
    await Promise.all(liveSelected().filter((r) => !ends.has(r.id)).map(async (r) => {
      const m = await get(`/projects/${P}/runs/${encodeURIComponent(r.id)}/metrics`).catch(() => null);
      if (m) ends.set(r.id, m.files.history);
    }));
  }

  let tableTimer = null;
  function followLive() {
    const live = liveSelected();
    for (const [id, f] of follows) if (!live.some((r) => r.id === id)) { f.stop(); follows.delete(id); }
    for (const r of live) {
      const end = ends.get(r.id);
      if (follows.has(r.id) || !end) continue;
      follows.set(r.id, new Follow(end.url, end.size || 0, {
        onRows: (rows) => { if (!state.groupBy) grid.appendRows(runLabel(r), rows, (row) => row._timestamp - r.created); },
      }));
    }
    clearTimeout(tableTimer);
    if (state.rows.some((r) => LIVE_STATES.has(r.state))) tableTimer = setTimeout(refreshStates, 5000);
  }

  async function refreshStates() {
    try {
      const filter = state.filter.trim() ? [state.filter.trim()] : [];
      const { runs } = await get(`/projects/${P}/table`, { filter });
      const before = state.rows.map((r) => `${r.id}:${r.state}`).join(",");
      const after = runs.map((r) => `${r.id}:${r.state}`).join(",");
      state.rows = runs;
      if (before !== after) renderTable();
    } catch (_) { /* next time */ }
    followLive();
  }

  stops.push(() => { clearTimeout(tableTimer); follows.forEach((f) => f.stop()); grid.destroy(); });
  await loadRows();
  return () => stops.forEach((f) => f());
}
