// Line charts over uPlot (vendor/uplot): many series on one x, a min/max band where points were
// aggregated into buckets, smoothing, log scale, drag to zoom (the page reloads that range at full
// resolution), double-click to zoom out, and a legend with every series' value at the cursor.

import { h, fmt } from "./dom.js";

const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
  "#31a354", "#756bb1",
];
export const color = (i) => PALETTE[i % PALETTE.length];

// TensorBoard's smoothing: an exponential moving average debiased at the start (so the first points
// are not pulled to zero), skipping non-finite values.
export function ema(ys, weight) {
  const out = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    n++;
    out[i] = weight === 1 ? y : last / (1 - Math.pow(weight, n));
  }
  return out;
}

// The mean of the last `window` finite values (wandb's "running average").
export function runningAverage(ys, window) {
  const out = new Array(ys.length), buf = [];
  let sum = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) { out[i] = y; continue; }
    buf.push(y); sum += y;
    if (buf.length > window) sum -= buf.shift();
    out[i] = sum / buf.length;
  }
  return out;
}

export function smooth(ys, settings) {
  if (settings.smoothing === "ema" && settings.weight > 0) return ema(ys, Math.min(settings.weight, 0.999));
  if (settings.smoothing === "avg") return runningAverage(ys, Math.max(1, Math.round(settings.window || 10)));
  return ys;
}

// Buckets from the API (x, first, min, max, last, count per bucket) as a series: the line goes
// through each bucket's last value (for single points: the point), the band spans min..max.
export function fromBuckets(b, label, i) {
  const aggregated = b.count && b.count.some((c) => c > 1);
  return { label, color: color(i), x: b.x_end || b.x, y: b.last, min: aggregated ? b.min : null,
           max: aggregated ? b.max : null };
}

// Several runs as one: the mean at each x where any has a value, and the band from their min to max
// (wandb's grouped runs).
export function aggregate(series, label, i) {
  if (!series.length) return { label, color: color(i), x: [], y: [] };
  const data = uPlot.join(series.map((s) => [s.x, s.y]));
  const xs = data[0], y = [], lo = [], hi = [];
  for (let j = 0; j < xs.length; j++) {
    let sum = 0, n = 0, mn = Infinity, mx = -Infinity;
    for (let k = 1; k < data.length; k++) {
      const v = data[k][j];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      sum += v; n++; mn = Math.min(mn, v); mx = Math.max(mx, v);
    }
    y.push(n ? sum / n : null); lo.push(n ? mn : null); hi.push(n ? mx : null);
  }
  return { label, color: color(i), x: Array.from(xs), y, min: lo, max: hi };
}

// uPlot draws along ascending x. A step or time axis is; a metric chosen as x (wandb lets any be) may
// not be: its points are put in x order (and a NaN x dropped) before drawing.
export function ascending(s) {
  let sorted = true;
  for (let i = 1; i < s.x.length && sorted; i++) sorted = s.x[i - 1] <= s.x[i];
  if (sorted) return s;
  const idx = s.x.map((_, i) => i).filter((i) => Number.isFinite(s.x[i])).sort((a, b) => s.x[a] - s.x[b]);
  const pick = (arr) => (arr ? idx.map((i) => arr[i]) : arr);
  return { ...s, x: pick(s.x), y: pick(s.y), min: pick(s.min), max: pick(s.max) };
}

export function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

function alpha(hex, a) {
  return `rgba(${hexRgb(hex).join(",")},${a})`;
}

export class Chart {
  // opts: {title, height, timeX, onZoom(min|null, max|null)}
  constructor(parent, opts) {
    this.opts = opts;
    this.series = [];
    this.settings = { smoothing: "none", weight: 0.6, logY: false };
    this.legend = h("div", { class: "legend" });
    this.plot = h("div", { class: "plot" });
    this.el = h("div", { class: "chart", dataset: { title: opts.title } },
      h("div", { class: "chart-title" }, opts.title), this.plot, this.legend);
    this.el.chart = this;  // for tests and the console: the chart behind a panel
    parent.append(this.el);
    this.u = null;
  }

  setSeries(series) {
    this.series = series;
    this.draw();
  }

  setSettings(settings) {
    this.settings = { ...this.settings, ...settings };
    this.draw();
  }

  // A live run's new rows: points after the series' last x are appended, the rest ignored.
  append(label, xs, ys) {
    const s = this.series.find((t) => t.label === label);
    if (!s) return;
    const last = s.x.length ? s.x[s.x.length - 1] : -Infinity;
    let added = 0;
    for (let i = 0; i < xs.length; i++) {
      if (!(xs[i] > last) || ys[i] === null || ys[i] === undefined) continue;
      s.x.push(xs[i]); s.y.push(ys[i]);
      if (s.min) { s.min.push(ys[i]); s.max.push(ys[i]); }
      added++;
    }
    if (added) this.draw();
  }

  draw() {
    const shown = this.series.filter((s) => s.x.length).map(ascending);
    this.el.dataset.series = String(shown.length);
    this.el.dataset.points = String(shown.reduce((n, s) => n + s.x.length, 0));
    if (!shown.length) {
      if (this.u) { this.u.destroy(); this.u = null; }
      this.plot.replaceChildren(h("p", { class: "muted" }, "no data"));
      return;
    }
    const log = this.settings.logY;
    const pos = (ys) => (log ? ys.map((v) => (v !== null && v > 0 ? v : null)) : ys);
    const tables = [], cfg = [{}], bands = [];
    const bandAllowed = shown.length <= 12;  // 100 runs' bands are a fog, not information
    for (const s of shown) {
      const withBand = bandAllowed && s.min && s.max;
      tables.push(withBand ? [s.x, pos(smooth(s.y, this.settings)), pos(s.min), pos(s.max)]
                           : [s.x, pos(smooth(s.y, this.settings))]);
      const at = cfg.length;
      cfg.push({ label: s.label, _color: s.color, stroke: s.color, width: 1.5, spanGaps: true, points: { show: false } });
      if (withBand) {
        // the band's edges are drawn faintly too: a one-point spike is a line, not a fill of zero width
        const edge = { stroke: alpha(s.color, 0.45), width: 1, spanGaps: true, points: { show: false }, band: true };
        cfg.push({ ...edge, label: `${s.label} min` });
        cfg.push({ ...edge, label: `${s.label} max` });
        bands.push({ series: [at + 2, at + 1], fill: alpha(s.color, 0.2) });
      }
    }
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    const width = Math.max(240, this.plot.clientWidth || this.el.clientWidth || 480);
    const opts = {
      width, height: this.opts.height || 220,
      legend: { show: false },
      scales: { x: { time: !!this.opts.timeX }, y: { distr: log ? 3 : 1 } },
      axes: [{ grid: { stroke: "#eee" } }, { grid: { stroke: "#eee" }, size: 60 }],
      series: cfg, bands,
      cursor: { drag: { x: true, y: false }, bind: { dblclick: () => () => false } },
      hooks: {
        setCursor: [(u) => this.hover(u)],
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ width: 0, height: 0 }, false);
          if (this.opts.onZoom) this.opts.onZoom(lo, hi); else u.setScale("x", { min: lo, max: hi });
        }],
      },
    };
    opts.cursor.drag.setScale = false;  // the page reloads the range at full resolution instead
    if (this.u) this.u.destroy();
    this.plot.replaceChildren();
    this.u = new uPlot(opts, data, this.plot);
    this.u.over.addEventListener("dblclick", () => {
      if (this.opts.onZoom) this.opts.onZoom(null, null); else this.u.setData(this.u.data, true);
    });
    this.hover(this.u);
  }

  // The legend: every series' value at the cursor's x (the last point when the cursor is away).
  hover(u) {
    const idx = u.cursor.idx ?? u.data[0].length - 1;
    const x = u.data[0][idx];
    const rows = [h("div", { class: "legend-x" }, this.opts.timeX ? new Date(x * 1000).toLocaleString() : fmt(x))];
    for (let i = 1; i < u.series.length; i++) {
      const s = u.series[i];
      if (s.band) continue;
      rows.push(h("div", { class: "legend-row" }, h("span", { class: "swatch", style: { background: s._color } }),
        h("span", { class: "legend-label" }, s.label), h("span", { class: "legend-value" }, fmt(u.data[i][idx]))));
    }
    this.legend.replaceChildren(...rows);
  }
}
