// Building the page: every string goes in as text (textContent), never as HTML, so a run named
// <script> shows as those characters. The one exception is none: there is no innerHTML here.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

// The same for SVG (a lineage graph, parallel coordinates): attributes always as strings.
const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A value as a person reads it: numbers short, objects as JSON.
export function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
  }
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof v._type === "string") return `[${v._type}]`;
  return JSON.stringify(v);
}

export function fmtTime(seconds) {
  if (!seconds && seconds !== 0) return "";
  return new Date(seconds * 1000).toLocaleString();
}

export function fmtDuration(s) {
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60), hrs = Math.floor(m / 60);
  return hrs ? `${hrs}h ${m % 60}m` : `${m}m ${Math.floor(s % 60)}s`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i ? `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}` : `${n} B`;
}

export function badge(state) {
  return h("span", { class: `badge state-${state}` }, state);
}

export function link(href, ...children) {
  return h("a", { href }, ...children);
}

// A key/value table (config, summary, metadata).
export function kvTable(obj, { empty = "nothing" } = {}) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return h("p", { class: "muted" }, empty);
  return h("table", { class: "kv" },
    h("tbody", {}, keys.map((k) => h("tr", {}, h("th", {}, k), h("td", {}, fmt(obj[k]))))));
}

export function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && typeof v._type !== "string") flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}
