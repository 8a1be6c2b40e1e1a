// A grid of metric charts with the controls wandb users expect: x axis, smoothing, log scale. Each
// chart loads its data when it scrolls into view (a project with 200 metrics paints the first ones at
// once), reloads a zoomed range at full resolution, and takes a live run's new rows as they come.

import { h, clear, flatten } from "./dom.js";
import { Chart } from "./chart.js";

const EAGER = 4;  // charts loaded without waiting to be seen

export const X_AXES = [["_step", "Step"], ["_runtime", "Relative time (s)"], ["_timestamp", "Wall time"]];

// The settings bar: x axis (the axes above plus any metric), smoothing, log scale. onChange(settings,
// what): "x" when the x axis changed (the charts' data must be read again), "style" otherwise.
export function controls(settings, metricNames, onChange) {
  const xs = h("select", { class: "x-axis", onchange: () => { settings.xAxis = xs.value; onChange(settings, "x"); } },
    [...X_AXES, ...metricNames.map((m) => [m, m])].map(([v, label]) =>
      h("option", { value: v, selected: v === settings.xAxis }, label)));
  const kind = h("select", { class: "smoothing", onchange: () => { settings.smoothing = kind.value; onChange(settings, "style"); } },
    [["none", "No smoothing"], ["ema", "Exponential (TensorBoard)"], ["avg", "Running average"]].map(([v, label]) =>
      h("option", { value: v, selected: v === settings.smoothing }, label)));
  const weight = h("input", { type: "range", class: "weight", min: 0, max: 0.99, step: 0.01, value: settings.weight,
    oninput: () => { settings.weight = Number(weight.value); settings.window = 1 + Math.round(Number(weight.value) * 100); onChange(settings, "style"); } });
  const log = h("input", { type: "checkbox", class: "log-y", checked: settings.logY,
    onchange: () => { settings.logY = log.checked; onChange(settings, "style"); } });
  return h("div", { class: "controls" },
    h("label", {}, "X axis ", xs), h("label", {}, kind, " ", weight),
    h("label", {}, log, " log scale"),
    h("span", { class: "muted small" }, "drag to zoom, double-click to zoom out"));
}

export const defaultSettings = () => ({ xAxis: "_step", smoothing: "none", weight: 0.6, window: 10, logY: false });

// The x a metric is charted against: the page's choice, except that a metric with
// define_metric(step_metric=) uses its own step while the choice is the default _step.
export function xFor(metric, settings) {
  return settings.xAxis === "_step" && metric.step_metric ? metric.step_metric : settings.xAxis;
}

export class ChartGrid {
  // load(metric, xAxis, range{min_step,max_step}|null) -> Promise<series[]>
  constructor(parent, { load, settings }) {
    this.load = load;
    this.settings = settings;
    this.el = h("div", { class: "chart-grid" });
    parent.append(this.el);
    this.charts = new Map();
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) this.fill(e.target.chart, null);
    }, { rootMargin: "300px" });
  }

  setMetrics(metrics) {
    this.observer.disconnect();
    this.charts.clear();
    clear(this.el);
    if (!metrics.length) { this.el.append(h("p", { class: "muted" }, "No metrics to chart.")); return; }
    for (const m of metrics) {
      const chart = new Chart(this.el, {
        title: m.name, timeX: xFor(m, this.settings) === "_timestamp",
        onZoom: (lo, hi) => this.zoom(chart, lo, hi),
      });
      chart.metric = m;
      chart.loaded = false;
      chart.settings = { ...chart.settings, ...this.settings };
      this.charts.set(m.name, chart);
      this.observer.observe(chart.el);
    }
    // the first charts are on screen anyway: their requests leave now, not after the next layout
    [...this.charts.values()].slice(0, EAGER).forEach((c) => this.fill(c, null));
  }

  async fill(chart, range) {
    if (!range && chart.loaded) return;
    chart.loaded = true;
    const x = xFor(chart.metric, this.settings);
    chart.x = x;
    delete chart.el.dataset.loaded;  // until this load is drawn
    chart.el.classList.add("loading");
    try {
      const series = await this.load(chart.metric, x, range);
      chart.opts.timeX = x === "_timestamp";
      chart.setSeries(series);
      chart.el.dataset.loaded = "1";
      // a summary value set by hand (run.summary["best"] = ...) is no history: no chart to show
      chart.el.hidden = !range && !series.some((s) => s.x.length);
    } catch (e) {
      chart.plot.replaceChildren(h("p", { class: "error" }, String(e.message || e)));
    } finally {
      chart.el.classList.remove("loading");
    }
  }

  // Zooming reloads the range from the server (min/max buckets at the new scale, so the spikes of a
  // 1M-step run stay visible) when x is a step; other axes zoom on the points already there.
  zoom(chart, lo, hi) {
    if (lo === null) { chart.zoomed = null; this.fill(chart, {}); return; }
    if (chart.x === "_step" || chart.x === (chart.metric.step_metric || "_step")) {
      chart.zoomed = [Math.floor(lo), Math.ceil(hi) + 1];
      if (chart.x === "_step") { this.fill(chart, { min_step: chart.zoomed[0], max_step: chart.zoomed[1] }); return; }
    }
    chart.u.setScale("x", { min: lo, max: hi });
  }

  // New settings: a new x axis reads every chart's data again (as it comes into view); smoothing and
  // the scale only redraw what is loaded.
  apply(settings, what) {
    this.settings = settings;
    if (what === "x") {
      for (const chart of this.charts.values()) {
        chart.loaded = false;
        chart.zoomed = null;
        chart.settings = { ...chart.settings, ...settings };
      }
      this.observer.disconnect();
      for (const chart of this.charts.values()) this.observer.observe(chart.el);
      return;
    }
    for (const chart of this.charts.values()) {
      if (chart.loaded) chart.setSettings(settings);
      else chart.settings = { ...chart.settings, ...settings };
    }
  }

  // New history rows of one run (live): each chart takes its metric against its x.
  appendRows(label, rows, runtimeOf) {
    const flat = rows.map((r) => flatten(r));
    for (const chart of this.charts.values()) {
      if (!chart.loaded || chart.zoomed) continue;
      const xs = [], ys = [];
      for (const r of flat) {
        const y = r[chart.metric.name];
        if (typeof y !== "number") continue;
        const x = chart.x === "_runtime" ? runtimeOf(r) : r[chart.x];
        if (typeof x !== "number") continue;
        xs.push(x); ys.push(y);
      }
      if (xs.length) chart.append(label, xs, ys);
    }
  }

  destroy() {
    this.observer.disconnect();
  }
}
