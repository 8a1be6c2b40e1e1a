// A sweep: its config, a parallel-coordinates plot of its trials (one axis per swept parameter, the
// metric last, one line per run colored by its metric), the best runs, and every trial with its state
// (a trial Hyperband stopped reads "stopped (hyperband)").
//
// Two requests: /sweeps/{id} (config, state, trials, run ids, best run) and the runs table of the
// sweep's project filtered to the sweep (each run's flattened config and summary in one go).

import { get } from "./api.js";
import { h, svg, clear, link, fmt, fmtTime, fmtDuration, flatten } from "./dom.js";
import { setCrumbs } from "./app.js";
import { hexRgb } from "./chart.js";

const TOP_N = 10;
const LIVE_MS = 5000;
const LIVE_STATES = new Set(["PENDING", "RUNNING", "PAUSED"]);
// viridis, sampled: the line of the best run is the brightest
const RAMP = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const NO_METRIC = "#b8bcc4";


// t in [0, 1] -> a color of the ramp
export function rampColor(t) {
  if (!Number.isFinite(t)) return NO_METRIC;
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  const a = hexRgb(RAMP[i]), b = hexRgb(RAMP[i + 1]);
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const stateClass = (s) => String(s || "").split(/[^a-z]/)[0];

// A state badge that may carry a reason: "stopped (hyperband)" is styled as stopped.
function stateBadge(label) {
  return h("span", { class: `badge state-${stateClass(label)}`, dataset: { state: label } }, label);
}

// The swept parameters of a sweep config, nested ones as dotted paths (as the runs' flattened config
// names them): constants and single values are not axes.
export function sweptParams(parameters, prefix = "", out = []) {
  for (const [key, spec] of Object.entries(parameters || {})) {
    if (!spec || typeof spec !== "object" || Array.isArray(spec)) continue;
    const name = prefix ? `${prefix}.${key}` : key;
    if (spec.parameters && typeof spec.parameters === "object") { sweptParams(spec.parameters, name, out); continue; }
    const dist = String(spec.distribution || "");
    if (dist === "constant" || ("value" in spec && !dist && !("values" in spec))) continue;
    if (Array.isArray(spec.values) && spec.values.length < 2) continue;
    out.push({ name, spec, dist, log: /log_uniform/.test(dist) });
  }
  return out;
}

// YAML-ish text of a config (what `runstore sweep` was given), for reading, not for parsing.
export function yamlish(v, indent = "") {
  const scalar = (x) => (typeof x === "string" ? (/^[\w.\-/ ]*$/.test(x) && x.trim() === x && x ? x : JSON.stringify(x)) : JSON.stringify(x));
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    if (v.every((x) => x === null || typeof x !== "object")) return `[${v.map(scalar).join(", ")}]`;
    return v.map((x) => `\n${indent}- ${yamlish(x, indent + "  ").replace(/^\n\s*/, "")}`).join("");
  }
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (!keys.length) return "{}";
    return keys.map((k) => {
      const inner = yamlish(v[k], indent + "  ");
      return `\n${indent}${k}:${inner.startsWith("\n") ? "" : " "}${inner}`;
    }).join("");
  }
  return scalar(v);
}

// -- the data ---------------------------------------------------------------------------------------------
async function load(id) {
  const sweep = await get(`/sweeps/${encodeURIComponent(id)}`);
  const projects = new Set((sweep.run_ids || []).map((r) => r[0]));
  if (!projects.size && sweep.project) projects.add(sweep.project);
  const rows = new Map();  // run id -> table row (with .project)
  await Promise.all([...projects].map(async (p) => {
    try {
      const { runs } = await get(`/projects/${encodeURIComponent(p)}/table`, { filter: [JSON.stringify({ sweep: sweep.id })] });
      for (const r of runs) rows.set(r.id, { ...r, project: p });
    } catch (_) { /* a project the token does not reach: its runs stay ids */ }
  }));
  return { sweep, rows };
}

// One entry per trial (in proposal order), then runs of the sweep no trial names (started by hand with
// the sweep's id): {id, project, row, trial, params (flat), metric, state}.
function entries(sweep, rows) {
  const metric = sweep.metric && sweep.metric.name;
  const out = [], seen = new Set();
  const projectOf = new Map((sweep.run_ids || []).map(([p, r]) => [r, p]));
  const add = (id, trial) => {
    seen.add(id);
    const row = rows.get(id) || null;
    const params = flatten(trial ? trial.params : {});
    if (row) for (const [k, v] of Object.entries(row.config || {})) if (!(k in params)) params[k] = v;
    const m = row && metric ? row.summary[metric] : undefined;
    out.push({ id, project: (row && row.project) || projectOf.get(id) || sweep.project, row, trial, params,
               metric: isNum(m) ? m : null, state: trialState(trial, row) });
  };
  for (const t of sweep.trials || []) if (!t.prior || rows.has(t.run)) add(t.run, t);
  for (const id of rows.keys()) if (!seen.has(id)) add(id, null);
  return out;
}

// The state a person wants to see: the trial's result as the agent recorded it, with why it was stopped.
export function trialState(trial, row) {
  if (!trial) return row ? row.state : "unknown";
  if (trial.released) return "released";
  if (trial.state === "stopped" && trial.stop) return `stopped (${trial.stop})`;
  if (trial.state === "running" && row && row.state && row.state !== "running") return row.state;
  return trial.state;
}

// -- the page --------------------------------------------------------------------------------------------
export async function sweepPage(main, [id]) {
  let timer = null, last = "", stopped = false;
  const here = location.hash;  // a slow answer must not paint over the page navigated to meanwhile
  const render = (data) => {
    const { sweep } = data;
    const P = encodeURIComponent(sweep.project);
    setCrumbs(link(`#/p/${P}`, sweep.project), "sweep", link(`#/sweeps/${encodeURIComponent(sweep.id)}`, sweep.name || sweep.id));
    const all = entries(sweep, data.rows);
    clear(main, header(sweep, all), plotSection(sweep, all), bestSection(sweep, all), trialsSection(sweep, all), configSection(sweep));
  };
  const refresh = async () => {
    if (stopped) return;
    try {
      const data = await load(id);
      if (stopped || location.hash !== here) return;
      const key = JSON.stringify([data.sweep, [...data.rows.values()].map((r) => [r.id, r.state, r.summary])]);
      if (key !== last) { last = key; render(data); }
      if (LIVE_STATES.has(data.sweep.state)) timer = setTimeout(refresh, LIVE_MS);
    } catch (e) {
      if (!last) throw e;  // the first load: the router shows the error
      timer = setTimeout(refresh, LIVE_MS);  // the server went away for a moment
    }
  };
  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

function header(sweep, all) {
  const m = sweep.metric;
  const counts = {};
  for (const e of all) counts[e.state] = (counts[e.state] || 0) + 1;
  const expected = sweep.expected_run_count;
  return h("div", { class: "sweep-header" },
    h("h1", {}, sweep.name || sweep.id, sweep.name && sweep.name !== sweep.id ? h("span", { class: "muted small" }, ` ${sweep.id}`) : null),
    h("table", { class: "kv sweep-info" }, h("tbody", {},
      h("tr", {}, h("th", {}, "state"), h("td", {}, stateBadge(String(sweep.state || "").toLowerCase()),
        LIVE_STATES.has(sweep.state) ? h("span", { class: "muted small" }, "  (updates every 5 s)") : null)),
      h("tr", {}, h("th", {}, "method"), h("td", { class: "sweep-method" }, sweep.method || "")),
      h("tr", {}, h("th", {}, "metric"), h("td", { class: "sweep-metric" }, m
        ? [m.name, " ", h("span", { class: "muted" }, `(${m.goal || "minimize"}${m.target !== undefined ? `, target ${fmt(m.target)}` : ""})`)]
        : h("span", { class: "muted" }, "none"))),
      h("tr", {}, h("th", {}, "project"), h("td", {}, link(`#/p/${encodeURIComponent(sweep.project)}`, sweep.project))),
      h("tr", {}, h("th", {}, "runs"), h("td", {}, `${all.length}${expected ? ` of ${expected}` : ""}`,
        Object.keys(counts).length ? h("span", { class: "muted" }, ` (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ")})`) : null)),
      h("tr", {}, h("th", {}, "created"), h("td", {}, fmtTime(sweep.created))),
      sweep.config && sweep.config.early_terminate
        ? h("tr", {}, h("th", {}, "early terminate"), h("td", {}, fmt(sweep.config.early_terminate))) : null)));
}

function configSection(sweep) {
  return h("section", { class: "sweep-config" }, h("h2", {}, "Config"),
    h("pre", {}, yamlish(sweep.config || {}).replace(/^\n/, "")));
}

// -- parallel coordinates -----------------------------------------------------------------------------------
// An axis: {name, kind: "linear"|"log"|"categorical", pos(v) -> 0 (bottom)..1 (top) or null, ticks}
export function makeAxis(name, values, param) {
  const present = values.filter((v) => v !== undefined && v !== null);
  const specValues = param && Array.isArray(param.spec.values) ? param.spec.values : [];
  const numeric = present.length > 0 && present.every(isNum) && specValues.every(isNum);
  if (!numeric) {
    const cats = [];
    const key = (v) => (typeof v === "string" ? v : fmt(v));
    for (const v of [...specValues, ...present]) if (!cats.includes(key(v))) cats.push(key(v));
    const n = cats.length;
    return { name, kind: "categorical", cats,
             pos: (v) => (v === undefined || v === null || !cats.includes(key(v)) ? null : (cats.indexOf(key(v)) + 0.5) / n),
             ticks: cats.map((c, i) => ({ at: (i + 0.5) / n, label: c })).filter((_, i) => n <= 16 || i % Math.ceil(n / 16) === 0) };
  }
  let lo = Math.min(...present), hi = Math.max(...present);
  const log = !!(param && param.log) && lo > 0;
  if (log) {
    const a = Math.log10(lo), b = Math.log10(hi);
    const [la, lb] = a === b ? [a - 0.5, b + 0.5] : [a, b];
    const ticks = [];
    for (let e = Math.ceil(la); e <= Math.floor(lb); e++) ticks.push({ at: (e - la) / (lb - la), label: fmt(Math.pow(10, e)) });
    if (ticks.length < 2) ticks.push({ at: 0, label: fmt(Math.pow(10, la)) }, { at: 1, label: fmt(Math.pow(10, lb)) });
    return { name, kind: "log", pos: (v) => (isNum(v) && v > 0 ? (Math.log10(v) - la) / (lb - la) : null), ticks };
  }
  if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 0.5; lo -= pad; hi += pad; }
  return { name, kind: "linear", pos: (v) => (isNum(v) ? (v - lo) / (hi - lo) : null), ticks: niceTicks(lo, hi) };
}

function niceTicks(lo, hi, n = 5) {
  const span = hi - lo;
  const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= n) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push({ at: (v - lo) / span, label: fmt(+v.toPrecision(12)) });
  }
  return out;
}

function plotSection(sweep, all) {
  const params = sweptParams(sweep.config && sweep.config.parameters);
  const metric = sweep.metric && sweep.metric.name;
  const section = h("section", { class: "sweep-plot" }, h("h2", {}, "Parameters and ", metric || "metric"));
  const lines = all.filter((e) => params.some((p) => e.params[p.name] !== undefined) || e.metric !== null);
  if (!lines.length || (!params.length && !metric)) {
    section.append(h("p", { class: "muted" }, "No trials with parameters yet."));
    return section;
  }
  const axes = params.map((p) => makeAxis(p.name, lines.map((e) => e.params[p.name]), p));
  if (metric) {
    const ax = makeAxis(metric, lines.map((e) => e.metric), null);
    ax.metric = true;
    axes.push(ax);
  }
  const goalMax = sweep.metric && sweep.metric.goal === "maximize";
  const ms = lines.map((e) => e.metric).filter(isNum);
  const mlo = Math.min(...ms), mhi = Math.max(...ms);
  const colorOf = (v) => {
    if (!isNum(v)) return NO_METRIC;
    const t = mhi > mlo ? (v - mlo) / (mhi - mlo) : 1;
    return rampColor(goalMax ? t : 1 - t);  // the best is the brightest
  };

  const W = Math.max(640, Math.min(1400, (section.clientWidth || document.body.clientWidth || 1200) - 40));
  const H = 380, top = 46, bottom = 24, left = 70, right = 90;
  const x = (i) => (axes.length === 1 ? W / 2 : left + (i * (W - left - right)) / (axes.length - 1));
  const y = (t) => top + (1 - t) * (H - top - bottom);
  const plot = svg("svg", { class: "parallel-coords", width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                            dataset: { axes: String(axes.length), lines: String(lines.length) } });
  const info = h("div", { class: "pc-info muted small", style: { minHeight: "1.6em" } }, "Hover a line for its run; click it to open the run.");
  const lineLayer = svg("g", { class: "pc-lines" });
  const focusLayer = svg("g", { class: "pc-focus", "pointer-events": "none" });
  const byId = new Map();

  // the worst first, so the best lie on top
  const order = [...lines].sort((a, b) => {
    if (a.metric === null) return -1;
    if (b.metric === null) return 1;
    return goalMax ? a.metric - b.metric : b.metric - a.metric;
  });
  for (const e of order) {
    const pts = [];
    axes.forEach((ax, i) => {
      const t = ax.pos(ax.metric ? e.metric : e.params[ax.name]);
      if (t !== null && Number.isFinite(t)) pts.push(`${x(i).toFixed(1)},${y(t).toFixed(1)}`);
    });
    const stroke = colorOf(e.metric);
    const line = svg("polyline", { class: "pc-line", points: pts.join(" "), fill: "none", stroke, "stroke-width": 2,
      "stroke-opacity": 0.85, "stroke-dasharray": e.metric === null ? "4 3" : null,
      dataset: { run: e.id, state: e.state, metric: e.metric === null ? "" : String(e.metric) } },
      svg("title", {}, `${label(e)}: ${metric || ""} ${fmt(e.metric)}`));
    const a = svg("a", { href: runHref(e), class: "pc-link" }, line);
    a.addEventListener("mouseenter", () => highlight(e.id));
    a.addEventListener("mouseleave", () => highlight(null));
    byId.set(e.id, line);
    lineLayer.append(a);
  }

  function highlight(runId) {
    plot.classList.toggle("has-focus", runId !== null);
    for (const [rid, line] of byId) {
      const on = rid === runId;
      line.setAttribute("stroke-width", on ? 4 : 2);
      line.setAttribute("stroke-opacity", runId === null || on ? 0.85 : 0.12);
      line.classList.toggle("focused", on);
    }
    // the focused line drawn again on top (a copy: moving the hovered element itself would lose its click)
    focusLayer.replaceChildren();
    const focused = runId === null ? null : byId.get(runId);
    if (focused) {
      const copy = focused.cloneNode(false);
      copy.removeAttribute("class");
      copy.setAttribute("stroke-width", 4);
      copy.setAttribute("stroke-opacity", 1);
      focusLayer.append(copy);
    }
    const e = runId === null ? null : lines.find((t) => t.id === runId);
    clear(info, e
      ? [link(runHref(e), label(e)), " ", stateBadge(e.state), " ",
         axes.map((ax) => `${ax.name} = ${fmt(ax.metric ? e.metric : e.params[ax.name])}`).join(", ")]
      : "Hover a line for its run; click it to open the run.");
  }

  const axisLayer = svg("g", { class: "pc-axes" });
  axes.forEach((ax, i) => {
    const g = svg("g", { class: "pc-axis", dataset: { name: ax.name, scale: ax.kind, metric: ax.metric ? "1" : "" } });
    g.append(svg("line", { x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: "#374151", "stroke-width": 1 }));
    for (const t of ax.ticks) {
      g.append(svg("line", { x1: x(i) - 4, x2: x(i), y1: y(t.at), y2: y(t.at), stroke: "#374151" }));
      const text = t.label.length > 14 ? `${t.label.slice(0, 13)}…` : t.label;
      g.append(svg("text", { x: x(i) - 7, y: y(t.at) + 4, "text-anchor": "end", "font-size": 11, fill: "#374151",
                             class: "pc-tick", stroke: "#fff", "stroke-width": 3, "paint-order": "stroke", dataset: { label: t.label } },
        text, svg("title", {}, t.label)));
    }
    const title = ax.name.length > 22 ? `…${ax.name.slice(-21)}` : ax.name;
    g.append(svg("text", { x: x(i), y: top - 24, "text-anchor": "middle", "font-size": 12, "font-weight": 600, fill: "#111827", class: "pc-title" },
      title, svg("title", {}, ax.name)));
    const sub = ax.metric ? (goalMax ? "maximize" : "minimize") : ax.kind === "log" ? "log scale" : "";
    if (sub) g.append(svg("text", { x: x(i), y: top - 10, "text-anchor": "middle", "font-size": 10, fill: "#6b7280" }, sub));
    axisLayer.append(g);
  });
  plot.append(lineLayer, axisLayer, focusLayer);
  section.append(plot, info, legend(metric, mlo, mhi, goalMax, ms.length, lines.length - ms.length));
  return section;
}

function legend(metric, lo, hi, goalMax, n, missing) {
  if (!metric || !n) return h("p", { class: "muted small" }, metric ? `No run has logged ${metric} yet.` : "");
  const W = 220, gid = `pc-grad-${Math.random().toString(36).slice(2)}`;
  const stops = RAMP.map((c, i) => svg("stop", { offset: `${(i * 100) / (RAMP.length - 1)}%`, "stop-color": c }));
  if (!goalMax) stops.reverse().forEach((s, i) => s.setAttribute("offset", `${(i * 100) / (RAMP.length - 1)}%`));
  const bar = svg("svg", { class: "pc-legend", width: W, height: 14 },
    svg("defs", {}, svg("linearGradient", { id: gid, x1: "0", x2: "1", y1: "0", y2: "0" }, stops)),
    svg("rect", { x: 0, y: 0, width: W, height: 14, fill: `url(#${gid})`, rx: 2 }));
  return h("div", { class: "pc-legend-box small", style: { display: "flex", gap: "8px", alignItems: "center", margin: "4px 0 0 8px" } },
    h("span", {}, `${metric}:`), h("span", { class: "legend-min" }, fmt(lo)), bar, h("span", { class: "legend-max" }, fmt(hi)),
    h("span", { class: "muted" }, `(brightest: best, ${goalMax ? "highest" : "lowest"})`),
    missing ? h("span", { class: "muted" }, ` · dashed grey: ${missing} without ${metric}`) : null);
}

const label = (e) => (e.row && e.row.name) || e.id;
const runHref = (e) => `#/p/${encodeURIComponent(e.project)}/r/${encodeURIComponent(e.id)}`;

// -- best runs and trials ----------------------------------------------------------------------------------
function bestSection(sweep, all) {
  const m = sweep.metric;
  const section = h("section", { class: "sweep-best" }, h("h2", {}, `Best runs`));
  if (!m) {
    section.append(h("p", { class: "muted" }, "The sweep has no metric to rank its runs by."));
    return section;
  }
  const goalMax = m.goal === "maximize";
  const ranked = all.filter((e) => e.metric !== null).sort((a, b) => (goalMax ? b.metric - a.metric : a.metric - b.metric)).slice(0, TOP_N);
  if (!ranked.length) {
    section.append(h("p", { class: "muted" }, `No run has logged ${m.name} yet.`));
    return section;
  }
  const params = sweptParams(sweep.config && sweep.config.parameters).map((p) => p.name);
  const best = sweep.best_run ? sweep.best_run[1] : null;
  section.append(h("p", { class: "muted small" }, `Top ${ranked.length} by ${m.name} (${goalMax ? "highest" : "lowest"} first).`),
    h("table", { class: "grid best-runs" },
      h("thead", {}, h("tr", {}, ["#", "run", "state", ...params, m.name].map((c) => h("th", {}, c)))),
      h("tbody", {}, ranked.map((e, i) => h("tr", { dataset: { run: e.id, best: e.id === best ? "1" : "" } },
        h("td", { class: "num" }, String(i + 1)),
        h("td", {}, link(runHref(e), label(e)), e.id === best ? h("span", { class: "muted", title: "the sweep's best run" }, " ★") : null),
        h("td", {}, stateBadge(e.state)),
        params.map((p) => h("td", { class: "num" }, fmt(e.params[p]))),
        h("td", { class: "num metric" }, fmt(e.metric)))))));
  return section;
}

function trialsSection(sweep, all) {
  const m = sweep.metric && sweep.metric.name;
  const params = sweptParams(sweep.config && sweep.config.parameters).map((p) => p.name);
  const section = h("section", { class: "sweep-trials" }, h("h2", {}, "Trials"));
  if (!all.length) {
    section.append(h("p", { class: "muted" }, "No trials yet: start an agent with `runstore agent ", sweep.id, "`."));
    return section;
  }
  section.append(h("div", { class: "runs-table" }, h("table", { class: "grid trials" },
    h("thead", {}, h("tr", {}, ["run", "state", ...params, ...(m ? [m] : []), "runtime", "created", "agent", "exit"].map((c) => h("th", {}, c)))),
    h("tbody", {}, all.map((e) => h("tr", { dataset: { run: e.id, state: e.state } },
      h("td", {}, e.row ? link(runHref(e), label(e)) : h("span", { title: "no run in the store (it never called init)" }, e.id)),
      h("td", {}, stateBadge(e.state)),
      params.map((p) => h("td", { class: "num" }, fmt(e.params[p]))),
      m ? h("td", { class: "num" }, fmt(e.metric)) : null,
      h("td", { class: "num" }, e.row ? fmtDuration(e.row.runtime) : ""),
      h("td", {}, e.row ? fmtTime(e.row.created) : ""),
      h("td", { class: "muted" }, (e.trial && e.trial.agent) || ""),
      h("td", { class: "num" }, e.trial && e.trial.code !== null && e.trial.code !== undefined ? String(e.trial.code) : "")))))));
  return section;
}
