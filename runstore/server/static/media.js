// The run page's media panels: one per history key whose values are media (images, tables, histograms,
// Plotly figures, HTML, audio, video, point clouds, runstore.plot charts). `mediaPanel(el, ctx)` reads
// the key's values over steps (every row, unsampled, from history/rows) and draws them in `el`.
//
// Safety: every string goes in as text (dom.js, canvas fillText), every file is loaded from this
// server's /ui/raw (rawUrl), which serves it with a safe content type, nosniff and a sandbox CSP; a
// logged HTML page runs in an iframe with `sandbox="allow-scripts"` only (an opaque origin: it can
// reach neither the API nor the token cookie). Nothing is fetched from another origin.

import { get, rawUrl, text } from "./api.js";
import { h, clear, fmt, flatten } from "./dom.js";
import { Chart, color, hexRgb } from "./chart.js";

const PAGE_SIZE = 1000;  // history rows per request
const TABLE_ROWS = 20;  // rows per page of a table
const MAX_POINTS = 100_000;  // points of a cloud drawn per frame (a larger cloud is strided)
const PLOTLY_JS = "/ui/vendor/plotly.min.js";

// A reference's `_type` -> how one file of it is shown.
const FILE_KINDS = {
  "image-file": "image",
  "audio-file": "audio",
  "video-file": "video",
  "html-file": "html",
  "object3D-file": "object3d",
  "molecule-file": "molecule",
  "plotly-file": "plotly",
  "table-file": "table",
  "incremental-table-file": "table",
  "joined-table": "table",
  "partitioned-table": "table",
};

// ctx = {project, run, key, type, raw[, doc (the run document, if the page has it), subscribe (a live
// run's: subscribe(fn) hands fn each batch of new history rows)]}. Resolves when
// the panel is drawn (its latest step); the returned function stops what the panel keeps running (drag
// handlers, Plotly).
export async function mediaPanel(el, ctx) {
  const root = h("div", { class: "media-view", dataset: { key: ctx.key, type: ctx.type } },
    h("p", { class: "muted" }, "Loading…"));
  clear(el, root);
  const stops = [];
  try {
    const steps = await loadSteps(ctx);
    await drawPanel(root, ctx, steps, stops);
    // A live run: the page hands on each batch of new history rows (read from byte offsets); a new
    // value of this key is drawn at once while the panel shows the latest step, and waits otherwise.
    if (ctx.subscribe) {
      ctx.subscribe((rows) => {
        let added = false;
        for (const row of rows) {
          const v = flatten(row)[ctx.key];
          const last = steps.length ? steps[steps.length - 1].step : -Infinity;
          if (v && typeof v === "object" && typeof row._step === "number" && row._step > last) {
            steps.push({ step: row._step, value: v });
            added = true;
          }
        }
        const slider = root.querySelector(".step-slider");
        const following = !slider || Number(slider.value) === Number(slider.max);
        if (added && following) {
          stops.splice(0).forEach((f) => f());
          drawPanel(root, ctx, steps, stops).catch(() => {});
        }
      });
    }
  } catch (e) {
    root.dataset.error = "1";
    clear(root, h("p", { class: "error" }, `${ctx.key}: ${e && e.message ? e.message : e}`));
  }
  return () => stops.forEach((f) => f());
}

async function drawPanel(root, ctx, steps, stops) {
  {
    if (!steps.length) {
      root.dataset.shown = "";
      clear(root, h("p", { class: "muted" }, "no values"));
    } else if (isHistogram(steps[steps.length - 1].value)) {
      root.dataset.kind = "histogram";
      histogramPanel(root, steps);
    } else if (steps.some((s) => items(s.value).length)) {
      await steppedPanel(root, ctx, steps, stops);
    } else {
      unknown(root, ctx, steps[steps.length - 1].value);
    }
  }
}

// -- reading --------------------------------------------------------------------------------------------
// Every value of the key, oldest first: [{step, value}] (rows without it are not returned by the API).
async function loadSteps(ctx) {
  const path = `/projects/${encodeURIComponent(ctx.project)}/runs/${encodeURIComponent(ctx.run)}/history/rows`;
  const out = [];
  let cursor;
  do {
    const page = await get(path, { keys: [ctx.key, "_step"], page_size: PAGE_SIZE, cursor });
    for (const row of page.rows) {
      const v = row[ctx.key];
      if (v && typeof v === "object") out.push({ step: row._step, value: v });
    }
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

// The run document (config, summary): `ctx.doc` when the page passes the one it has; else read once for
// all the panels of one page (a page draws its panels at once, so a promise younger than a few seconds
// is shared rather than asked for again).
const docs = new Map();
function runDoc(ctx) {
  if (ctx.doc && typeof ctx.doc === "object") return Promise.resolve(ctx.doc);
  const id = `${ctx.project}/${ctx.run}`;
  const hit = docs.get(id);
  if (hit && Date.now() - hit.at < 5000) return hit.doc;
  const doc = get(`/projects/${encodeURIComponent(ctx.project)}/runs/${encodeURIComponent(ctx.run)}`)
    .catch(() => ({ config: {} }));
  docs.set(id, { at: Date.now(), doc });
  return doc;
}

// wandb's internal config section (`_wandb`): chart specs, mask and box class labels.
async function internalConfig(ctx) {
  const doc = await runDoc(ctx);
  const w = doc && doc.config && doc.config._wandb;
  return w && typeof w === "object" ? w : {};
}

// A JSON file of the store. Python's json writes NaN/Infinity; JSON.parse refuses them, so only then
// are those bare tokens (outside strings) made null.
const files = new Map();
function fetchJson(ctx, path) {
  const url = rawUrl(ctx.raw, path);
  if (!files.has(url)) {
    const p = text(url).then((t) => {
      try {
        return JSON.parse(t);
      } catch (_) {
        return JSON.parse(t.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) => (m[0] === '"' ? m : "null")));
      }
    });
    p.catch(() => files.delete(url));  // a failed read is tried again by the next panel
    files.set(url, p);
  }
  return files.get(url);
}

// -- what a value holds -----------------------------------------------------------------------------------
// The files of one value: [{kind, ref, caption, masks, boxes}]. A single reference is one; the batched
// forms runstore/wandb write for a list logged under one key are several.
function items(v) {
  if (!v || typeof v !== "object") return [];
  if (Array.isArray(v)) return v.flatMap(items);  // a plain list of references
  const at = (list, i) => (Array.isArray(list) ? list[i] : undefined);
  switch (v._type) {
    case "images/separated":
      return (v.filenames || []).map((path, i) => ({
        kind: "image", ref: { path, width: v.width, height: v.height },
        caption: at(v.captions, i), masks: at(v.all_masks, i), boxes: at(v.all_boxes, i),
      }));
    case "audio":
      return (v.audio || []).map((r, i) => ({ kind: "audio", ref: r, caption: r.caption ?? at(v.captions, i) }));
    case "videos":
      return (v.videos || []).map((r, i) => ({ kind: "video", ref: r, caption: r.caption ?? at(v.captions, i) }));
    case "html":
      return (v.html || []).map((r) => ({ kind: "html", ref: r }));
    case "molecule":
      return (v.filenames || []).map((path, i) => ({ kind: "molecule", ref: { path }, caption: at(v.captions, i) }));
    case "object3D":
      return (v.objects || []).map((r) => ({ kind: "object3d", ref: r, caption: r.caption }));
    default: {
      const kind = FILE_KINDS[v._type];
      if (!kind || typeof v.path !== "string") return [];
      return [{ kind, ref: v, caption: v.caption, masks: v.masks, boxes: v.boxes }];
    }
  }
}

function isHistogram(v) {
  return v && v._type === "histogram" && Array.isArray(v.values);
}

function unknown(root, ctx, value) {
  const path = value && typeof value.path === "string" ? value.path : null;
  root.dataset.shown = "";
  clear(root, h("p", { class: "muted" }, `no viewer for ${value && value._type ? value._type : ctx.type}`,
    path ? " · " : "", path ? h("a", { href: rawUrl(ctx.raw, path, true) }, "download") : null));
}

// -- a value per step, with a slider -------------------------------------------------------------------
// A step slider (a range over the steps that have a value; it shows the step, not the index) above the
// selected step's files. Panel-wide state (which classes are hidden, mask opacity) survives a step change.
async function steppedPanel(root, ctx, steps, stops) {
  const state = { hiddenBoxes: new Set(), hiddenMasks: new Set(), maskAlpha: 0.5, stops };
  const body = h("div", { class: "media-step" });
  let shown = 0;
  const show = async (i) => {
    const mine = ++shown;
    const { step, value } = steps[i];
    root.dataset.step = String(step);
    const content = h("div", { class: "media-items", style: { display: "flex", flexWrap: "wrap", gap: "12px" } });
    const ctl = { masks: new Map(), boxes: new Map() };  // the mask layers and box classes of this step
    const built = await Promise.all(items(value).map((it) => renderItem(it, ctx, state, ctl).catch((e) =>
      h("p", { class: "error" }, String(e && e.message ? e.message : e)))));
    if (mine !== shown) return;  // the slider moved on while this step was loading
    content.append(...built);
    clear(body, ctl.masks.size || ctl.boxes.size ? imageControls(state, ctl) : null, content);
    root.dataset.shown = String(step);  // what a test waits for: this step is drawn
  };
  clear(root);
  if (steps.length > 1) root.append(stepSlider(steps, show));
  root.append(body);
  root.dataset.kind = items(steps[steps.length - 1].value)[0]?.kind || "";
  await show(steps.length - 1);
}

export function stepSlider(steps, onChange) {
  const label = h("span", { class: "step-label", style: { fontVariantNumeric: "tabular-nums" } });
  const input = h("input", { type: "range", class: "step-slider", min: 0, max: steps.length - 1, step: 1,
    value: steps.length - 1, "aria-label": "step", style: { flex: "1", maxWidth: "480px" } });
  const sync = () => { label.textContent = `step ${steps[Number(input.value)].step}`; };
  input.addEventListener("input", () => { sync(); onChange(Number(input.value)); });
  sync();
  return h("div", { class: "controls step-control" }, input, label,
    h("span", { class: "muted small" }, `${steps.length} steps`));
}

function renderItem(it, ctx, state, ctl) {
  switch (it.kind) {
    case "image": return imageItem(it, ctx, state, ctl);
    case "table": return tableItem(it, ctx);
    case "plotly": return plotlyItem(it, ctx, state);
    case "html": return Promise.resolve(htmlItem(it, ctx));
    case "audio": return Promise.resolve(figure(
      h("audio", { controls: true, preload: "metadata", src: rawUrl(ctx.raw, it.ref.path) }), it, ctx));
    case "video": return Promise.resolve(videoItem(it, ctx));
    case "object3d": return pointCloudItem(it, ctx, state);
    case "molecule": return Promise.resolve(figure(
      h("p", { class: "muted" }, "molecule: no viewer here · ", h("a", { href: rawUrl(ctx.raw, it.ref.path, true) }, "download")), it, ctx));
    default: return Promise.resolve(h("p", { class: "muted" }, `no viewer for ${it.kind}`));
  }
}

function figure(content, it, ctx, download = true) {
  return h("figure", { class: "media-item", style: { margin: "0" } }, content,
    h("figcaption", { class: "small" },
      it.caption ? h("span", { class: "caption" }, String(it.caption)) : null,
      it.caption && download ? " · " : null,
      download ? h("a", { class: "muted", href: rawUrl(ctx.raw, it.ref.path, true) }, "download") : null));
}

// -- images: masks and boxes over the picture -------------------------------------------------------
// A small image is shown enlarged (pixelated) so a 28×28 digit is visible; a large one fits 640 px.
function displaySize(w, hgt) {
  if (!w || !hgt) return [w || 256, hgt || 256];
  const s = w < 192 ? Math.max(1, Math.floor(256 / w)) : Math.min(1, 640 / w);
  return [Math.round(w * s), Math.round(hgt * s)];
}

async function imageItem(it, ctx, state, ctl) {
  const img = h("img", { class: "media-img", src: rawUrl(ctx.raw, it.ref.path), alt: it.caption || ctx.key,
    style: { display: "block", width: "100%", height: "100%" } });
  await img.decode().catch(() => {});  // a broken file still shows its alt text
  const [w, hgt] = displaySize(img.naturalWidth || it.ref.width, img.naturalHeight || it.ref.height);
  if (w > (img.naturalWidth || w)) img.style.imageRendering = "pixelated";
  const stack = h("div", { class: "media-stack", style: { position: "relative", width: `${w}px`, height: `${hgt}px` } }, img);
  const layer = (cls) => h("canvas", { class: cls, style: { position: "absolute", left: "0", top: "0", width: "100%", height: "100%", pointerEvents: "none" } });
  const cfg = (it.masks || it.boxes) ? await internalConfig(ctx) : {};

  for (const [name, ref] of Object.entries(it.masks || {})) {
    if (!ref || typeof ref.path !== "string") continue;
    const c = layer("mask-layer");
    c.dataset.mask = name;
    stack.append(c);
    const labels = labelsOf(cfg, "mask/class_labels", ctx.key, name);
    await drawMask(c, rawUrl(ctx.raw, ref.path), labels).catch(() => {});
    const apply = () => {
      c.style.opacity = String(state.maskAlpha);
      c.style.display = state.hiddenMasks.has(name) ? "none" : "";
    };
    apply();
    addControl(ctl.masks, name, { labels, apply });
  }

  const layers = [];
  for (const [name, ref] of Object.entries(it.boxes || {})) {
    if (!ref || typeof ref.path !== "string") continue;
    const doc = await fetchJson(ctx, ref.path).catch(() => null);
    if (!doc || !Array.isArray(doc.box_data)) continue;
    const labels = { ...labelsOf(cfg, "bounding_box/class_labels", ctx.key, name), ...(doc.class_labels || {}) };
    layers.push({ name, boxes: doc.box_data, labels });
  }
  if (layers.length) {
    const c = layer("box-layer");
    stack.append(c);
    const nat = [img.naturalWidth || it.ref.width || w, img.naturalHeight || it.ref.height || hgt];
    const draw = () => drawBoxes(c, w, hgt, nat, layers, state.hiddenBoxes);
    draw();
    for (const l of layers) addControl(ctl.boxes, l.name, { labels: l.labels, boxes: l.boxes, apply: draw });
  }
  return figure(stack, it, ctx);
}

function labelsOf(cfg, section, key, name) {
  const entry = cfg[section] && cfg[section][`${key}_wandb_delimeter_${name}`];
  return (entry && entry.value && typeof entry.value === "object") ? entry.value : {};
}

// Mask PNGs hold a class id per pixel (8-bit grey). Each id is drawn in its class colour; id 0 is the
// background (as in wandb's segmentation examples) and stays transparent so the picture shows through.
async function drawMask(canvas, url, labels) {
  const m = new Image();
  m.src = url;
  await m.decode();
  canvas.width = m.naturalWidth;
  canvas.height = m.naturalHeight;
  const g = canvas.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.drawImage(m, 0, 0);
  const px = g.getImageData(0, 0, canvas.width, canvas.height);
  const d = px.data;
  const rgb = new Map();
  for (let p = 0; p < d.length; p += 4) {
    const id = d[p];
    if (id === 0) { d[p + 3] = 0; continue; }
    if (!rgb.has(id)) rgb.set(id, hexRgb(color(id)));
    const [r, gg, b] = rgb.get(id);
    d[p] = r; d[p + 1] = gg; d[p + 2] = b; d[p + 3] = 255;
  }
  g.putImageData(px, 0, 0);
  canvas.dataset.classes = [...rgb.keys()].map((id) => labels[id] ?? id).join(",");
}


// Boxes are in the image's coordinates: fractions of its size (wandb's default domain) or pixels
// (`domain: "pixel"`), as {minX, maxX, minY, maxY} or {middle: [x, y], width, height}.
function drawBoxes(canvas, w, hgt, [nw, nh], layers, hidden) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "bottom";
  let drawn = 0;
  for (const { boxes, labels } of layers) {
    for (const b of boxes) {
      if (hidden.has(String(b.class_id))) continue;
      const p = b.position || {};
      const sx = b.domain === "pixel" ? w / nw : w, sy = b.domain === "pixel" ? hgt / nh : hgt;
      let x0, y0, x1, y1;
      if (Array.isArray(p.middle)) {
        x0 = p.middle[0] - p.width / 2; x1 = p.middle[0] + p.width / 2;
        y0 = p.middle[1] - p.height / 2; y1 = p.middle[1] + p.height / 2;
      } else {
        ({ minX: x0, maxX: x1, minY: y0, maxY: y1 } = p);
      }
      if (![x0, y0, x1, y1].every(Number.isFinite)) continue;
      const c = color(Number(b.class_id) || 0);
      g.strokeStyle = c;
      g.lineWidth = 2;
      g.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
      const scores = b.scores && typeof b.scores === "object"
        ? Object.entries(b.scores).map(([k, v]) => `${k}=${fmt(v)}`).join(" ") : "";
      const label = [labels[b.class_id] ?? b.class_id, b.box_caption, scores].filter((s) => s !== undefined && s !== "").join(" ");
      if (label) {
        const tw = g.measureText(label).width + 4, ty = Math.max(13, y0 * sy);
        g.fillStyle = c;
        g.fillRect(x0 * sx, ty - 13, tw, 13);
        g.fillStyle = "#fff";
        g.fillText(label, x0 * sx + 2, ty);
      }
      drawn++;
    }
  }
  canvas.dataset.boxes = String(drawn);
}

// The controls of an image panel, gathered from the step's images: a show/hide box and an opacity
// slider for each mask layer, and a toggle per box class. Built after the images (their files say which
// layers and classes there are); a toggle redraws every image of the step.
function addControl(layers, name, entry) {
  if (!layers.has(name)) layers.set(name, []);
  layers.get(name).push(entry);
}

function imageControls(state, { masks, boxes }) {
  const out = h("div", { class: "controls image-controls" });
  if (masks.size) {
    const redraw = () => masks.forEach((es) => es.forEach((e) => e.apply()));
    for (const name of masks.keys()) {
      out.append(h("label", {}, h("input", { type: "checkbox", class: "mask-toggle", dataset: { mask: name },
        checked: !state.hiddenMasks.has(name),
        onchange: (ev) => { ev.target.checked ? state.hiddenMasks.delete(name) : state.hiddenMasks.add(name); redraw(); } }),
        ` mask ${name}`));
    }
    out.append(h("label", {}, "opacity ", h("input", { type: "range", class: "mask-opacity", min: 0, max: 1, step: 0.05,
      value: state.maskAlpha, oninput: (ev) => { state.maskAlpha = Number(ev.target.value); redraw(); } })));
  }
  if (boxes.size) {
    const classes = new Map();  // class id -> label, over every box layer of the step
    for (const es of boxes.values()) {
      for (const e of es) {
        for (const b of e.boxes) if (!classes.has(String(b.class_id))) classes.set(String(b.class_id), e.labels[b.class_id] ?? b.class_id);
      }
    }
    const redraw = () => boxes.forEach((es) => es.forEach((e) => e.apply()));
    out.append(h("span", { class: "muted" }, "boxes:"));
    for (const [id, label] of [...classes].sort((a, b) => Number(a[0]) - Number(b[0]))) {
      out.append(h("label", {}, h("input", { type: "checkbox", class: "box-class", dataset: { classId: id },
        checked: !state.hiddenBoxes.has(id),
        onchange: (ev) => { ev.target.checked ? state.hiddenBoxes.delete(id) : state.hiddenBoxes.add(id); redraw(); } }),
        h("span", { class: "swatch", style: { background: color(Number(id) || 0) } }), String(label)));
    }
  }
  return out;
}

// -- tables and the runstore.plot charts drawn from them -------------------------------------------------
async function tableItem(it, ctx) {
  const [doc, spec] = await Promise.all([tableDoc(it.ref, ctx), chartSpec(ctx)]);
  const wrap = h("div", { class: "media-table", style: { flex: "1 1 100%", minWidth: "0" } });
  if (spec) {
    wrap.append(drawChart(spec, doc));
    wrap.append(h("details", { class: "chart-data" }, h("summary", { class: "muted small" }, "data"), tableView(doc, ctx)));
  } else {
    wrap.append(tableView(doc, ctx));
  }
  wrap.append(h("div", { class: "small" }, h("a", { class: "muted", href: rawUrl(ctx.raw, it.ref.path, true) }, "download")));
  return wrap;
}

// {columns, data}; an incremental table is its increments up to this one, followed back through their
// `previous_increment_path` links.
async function tableDoc(ref, ctx) {
  const doc = await fetchJson(ctx, ref.path);
  if (ref._type !== "incremental-table-file") return { columns: doc.columns || [], data: doc.data || [] };
  const parts = [doc];
  const seen = new Set([ref.path]);
  let prev = doc.previous_increment_path || ref.previous_increment_path;
  while (typeof prev === "string" && !seen.has(prev) && parts.length < 10_000) {
    seen.add(prev);
    const d = await fetchJson(ctx, prev);
    parts.unshift(d);
    prev = d.previous_increment_path;
  }
  return { columns: doc.columns || [], data: parts.flatMap((d) => d.data || []) };
}

function cellValue(v) {
  if (v && typeof v === "object" && !Array.isArray(v)) return v._type ? `[${v._type}]` : JSON.stringify(v);
  return v;
}

function compare(a, b) {
  a = cellValue(a); b = cellValue(b);
  const na = a === null || a === undefined, nb = b === null || b === undefined;
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;  // empty cells last
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// A table a page at a time; a click on a header sorts by that column (again: the other way).
export function tableView(doc, ctx, pageSize = TABLE_ROWS) {
  const cols = doc.columns.map(String);
  const st = { sort: null, desc: false, page: 0 };
  const el = h("div", { class: "table-view" });
  const render = () => {
    let rows = doc.data.map((r, i) => [r, i]);
    if (st.sort !== null) {
      const c = st.sort, sign = st.desc ? -1 : 1;
      rows.sort((x, y) => sign * compare(x[0][c], y[0][c]) || x[1] - y[1]);
    }
    const pages = Math.max(1, Math.ceil(rows.length / pageSize));
    st.page = Math.min(st.page, pages - 1);
    const from = st.page * pageSize;
    rows = rows.slice(from, from + pageSize);
    const head = h("tr", {}, cols.map((c, j) => h("th", {
      class: "sortable", dataset: { col: c }, title: "sort",
      onclick: () => { st.desc = st.sort === j ? !st.desc : false; st.sort = j; st.page = 0; render(); },
    }, c, st.sort === j ? (st.desc ? " ▼" : " ▲") : "")));
    const body = rows.map(([r]) => h("tr", {}, cols.map((_, j) => cell(r[j], ctx))));
    const go = (d) => () => { st.page += d; render(); };
    clear(el,
      h("div", { style: { overflowX: "auto" } }, h("table", { class: "grid" }, h("thead", {}, head), h("tbody", {}, body))),
      h("div", { class: "controls pager" },
        h("button", { class: "prev", disabled: st.page === 0, onclick: go(-1) }, "‹ prev"),
        h("span", { class: "page-info" }, doc.data.length
          ? `rows ${from + 1}–${from + rows.length} of ${doc.data.length}` : "no rows"),
        h("button", { class: "next", disabled: st.page >= pages - 1, onclick: go(1) }, "next ›")));
  };
  render();
  return el;
}

function cell(v, ctx) {
  if (v && typeof v === "object" && !Array.isArray(v) && typeof v._type === "string") {
    if (v._type === "image-file" && typeof v.path === "string") {
      // 48 px wide: a thumbnail (a small image is enlarged without blurring)
      return h("td", {}, h("img", { class: "table-img", src: rawUrl(ctx.raw, v.path), alt: v.caption || "",
        style: { width: "48px", height: "auto", display: "block", imageRendering: v.width < 48 ? "pixelated" : "auto" } }));
    }
    if (typeof v.path === "string") return h("td", {}, h("a", { href: rawUrl(ctx.raw, v.path, true) }, `[${v._type}]`));
    return h("td", { class: "muted" }, `[${v._type}]`);
  }
  return h("td", { class: typeof v === "number" ? "num" : "" }, fmt(v));
}

// runstore.plot logs a chart under K as its table at K_table and the panel (wandb's Vega preset and
// which column is which) in config `_wandb.visualize.K`; the panel names its table key.
async function chartSpec(ctx) {
  const vis = (await internalConfig(ctx)).visualize || {};
  for (const [name, v] of Object.entries(vis)) {
    const pc = v && v.panel_config;
    if (!pc) continue;
    const fields = (((pc.userQuery || {}).queryFields || [])[0] || {}).fields || [];
    const tk = fields.find((f) => f && f.name === "summaryTable");
    const key = tk && (tk.args || []).find((a) => a.name === "tableKey");
    if (key && key.value === ctx.key) {
      return { name, id: pc.panelDefId, fields: pc.fieldSettings || {}, strings: pc.stringSettings || {} };
    }
  }
  return null;
}

function drawChart(spec, doc) {
  const col = (field) => doc.columns.indexOf(spec.fields[field]);
  const title = spec.strings.title || spec.name;
  const el = h("div", { class: "plot-chart", dataset: { chart: spec.id } });
  const num = (v) => (typeof v === "number" ? v : v === null || v === undefined || v === "" ? NaN : Number(v));
  // rows as series: one per value of `group` (or one), sorted by x (uPlot draws a line in x order)
  const series = (xc, yc, gc, label) => {
    const by = new Map();
    for (const r of doc.data) {
      const x = num(r[xc]), y = num(r[yc]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const g = gc >= 0 ? String(r[gc]) : label;
      if (!by.has(g)) by.set(g, []);
      by.get(g).push([x, y]);
    }
    return [...by].map(([g, pts], i) => {
      pts.sort((a, b) => a[0] - b[0]);  // stable: equal x keep their order (a ROC curve's vertical steps)
      return { label: g, color: color(i), x: pts.map((p) => p[0]), y: pts.map((p) => p[1]) };
    });
  };
  const line = (xc, yc, gc) => {
    const s = series(xc, yc, gc, spec.fields.y || "y");
    const chart = new Chart(el, { title, height: 240 });
    chart.setSeries(s);
    return el;
  };
  switch (spec.id) {
    case "wandb/line/v0": return line(col("x"), col("y"), col("stroke"));
    case "wandb/area-under-curve/v0": return line(col("x"), col("y"), col("class"));
    case "wandb/lineseries/v0": return line(col("step"), col("lineVal"), col("lineKey"));
    case "wandb/scatter/v0": {
      el.append(h("div", { class: "chart-title" }, title));
      scatter(el, series(col("x"), col("y"), -1, spec.fields.y || "y")[0] || { x: [], y: [] });
      return el;
    }
    case "wandb/bar/v0": {
      const l = col("label"), v = col("value");
      const bars = doc.data.map((r) => [String(r[l]), num(r[v])]).filter((b) => Number.isFinite(b[1]));
      el.append(h("div", { class: "chart-title" }, title), labelledBars(bars));
      return el;
    }
    case "wandb/histogram/v0": {
      const v = col("value");
      const vals = doc.data.map((r) => num(r[v])).filter(Number.isFinite);
      el.append(h("div", { class: "chart-title" }, title), histBars(binValues(vals)));
      return el;
    }
    case "wandb/confusion_matrix/v1": {
      el.append(h("div", { class: "chart-title" }, title),
        confusion(doc.data.map((r) => [r[col("Actual")], r[col("Predicted")], num(r[col("nPredictions")])])));
      return el;
    }
    default:
      el.append(h("p", { class: "muted" }, `no chart for ${spec.id}; its table below`));
      return el;
  }
}

// Points without lines: uPlot with no path, over x-sorted points.
function scatter(host, s) {
  const plot = h("div", { class: "plot" });
  host.append(plot);
  host.dataset.points = String(s.x.length);
  if (!s.x.length) { plot.append(h("p", { class: "muted" }, "no data")); return; }
  const width = Math.max(240, host.clientWidth || 480);
  // eslint-disable-next-line no-undef
  new uPlot({
    width, height: 240, legend: { show: false }, scales: { x: { time: false } },
    series: [{}, { label: s.label, stroke: color(0), fill: color(0), paths: () => null, points: { show: true, size: 6, fill: color(0) } }],
    axes: [{ grid: { stroke: "#eee" } }, { grid: { stroke: "#eee" }, size: 60 }],
  }, [s.x, s.y], plot);
}

// -- canvases -----------------------------------------------------------------------------------------
function canvas(w, hgt, cls) {
  const dpr = window.devicePixelRatio || 1;
  const c = h("canvas", { class: cls, width: Math.round(w * dpr), height: Math.round(hgt * dpr),
    style: { width: `${w}px`, height: `${hgt}px`, display: "block" } });
  const g = c.getContext("2d");
  g.scale(dpr, dpr);
  g.font = "11px system-ui, sans-serif";
  return [c, g];
}

// n equal bins over the values' range: {bins (n+1 edges), values (counts)}.
function binValues(vals, n = Math.min(50, Math.max(10, Math.ceil(Math.sqrt(vals.length))))) {
  if (!vals.length) return { bins: [0, 1], values: [0] };
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const counts = new Array(n).fill(0), size = (hi - lo) / n;
  for (const v of vals) counts[Math.min(n - 1, Math.floor((v - lo) / size))]++;
  return { bins: Array.from({ length: n + 1 }, (_, i) => lo + i * size), values: counts };
}

// A histogram as vertical bars over its bin edges.
function histBars({ bins, values }, w = 480, hgt = 180) {
  const [c, g] = canvas(w, hgt, "hist-bars");
  const L = 44, B = 18, T = 6, R = 8, pw = w - L - R, ph = hgt - B - T;
  const lo = bins[0], hi = bins[bins.length - 1], span = hi - lo || 1;
  const max = Math.max(1e-12, ...values.filter(Number.isFinite));
  g.fillStyle = color(0);
  let drawn = 0;
  values.forEach((v, i) => {
    if (!Number.isFinite(v) || v <= 0) return;
    const x0 = L + ((bins[i] - lo) / span) * pw, x1 = L + ((bins[i + 1] - lo) / span) * pw;
    const bh = (v / max) * ph;
    g.fillRect(x0, T + ph - bh, Math.max(1, x1 - x0 - 1), bh);
    drawn++;
  });
  g.fillStyle = "#6b7280";
  g.textBaseline = "top";
  g.fillText(fmt(lo), L, T + ph + 3);
  g.textAlign = "right";
  g.fillText(fmt(hi), L + pw, T + ph + 3);
  g.fillText(fmt(max), L - 4, T);
  g.fillText("0", L - 4, T + ph - 10);
  c.dataset.bars = String(drawn);
  return c;
}

// Horizontal bars with their labels and values (wandb.plot.bar).
function labelledBars(bars) {
  const rowH = 20, w = 480, L = 120, R = 60;
  const [c, g] = canvas(w, Math.max(40, bars.length * rowH + 8), "bar-chart");
  const max = Math.max(1e-12, ...bars.map((b) => Math.abs(b[1])));
  g.textBaseline = "middle";
  bars.forEach(([label, v], i) => {
    const y = 4 + i * rowH;
    g.fillStyle = color(i);
    g.fillRect(L, y + 2, (Math.abs(v) / max) * (w - L - R), rowH - 4);
    g.fillStyle = "#1d2330";
    g.textAlign = "right";
    g.fillText(label.length > 18 ? `${label.slice(0, 17)}…` : label, L - 6, y + rowH / 2);
    g.textAlign = "left";
    g.fillText(fmt(v), L + (Math.abs(v) / max) * (w - L - R) + 4, y + rowH / 2);
  });
  c.dataset.bars = String(bars.length);
  return c;
}

// A confusion matrix as a heatmap: actual classes down, predicted across, the count in each cell.
function confusion(triples) {
  const names = [];
  for (const [a, p] of triples) for (const n of [a, p]) if (!names.includes(String(n))) names.push(String(n));
  const k = names.length, cellSize = Math.max(24, Math.min(60, Math.floor(360 / Math.max(1, k))));
  const L = 90, T = 20, B = 40;
  const [c, g] = canvas(L + k * cellSize + 10, T + k * cellSize + B, "confusion");
  const counts = Array.from({ length: k }, () => new Array(k).fill(0));
  for (const [a, p, n] of triples) if (Number.isFinite(n)) counts[names.indexOf(String(a))][names.indexOf(String(p))] += n;
  const max = Math.max(1, ...counts.flat());
  g.textAlign = "center";
  g.textBaseline = "middle";
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const f = counts[i][j] / max;
      g.fillStyle = heat(f);
      g.fillRect(L + j * cellSize, T + i * cellSize, cellSize - 1, cellSize - 1);
      g.fillStyle = f > 0.55 ? "#fff" : "#1d2330";
      g.fillText(fmt(counts[i][j]), L + j * cellSize + cellSize / 2, T + i * cellSize + cellSize / 2);
    }
  }
  g.fillStyle = "#6b7280";
  const short = (s) => (s.length > 12 ? `${s.slice(0, 11)}…` : s);
  names.forEach((n, i) => {
    g.textAlign = "right";
    g.fillText(short(n), L - 4, T + i * cellSize + cellSize / 2);
    g.textAlign = "center";
    g.fillText(short(n), L + i * cellSize + cellSize / 2, T + k * cellSize + 10);
  });
  g.fillText("predicted", L + (k * cellSize) / 2, T + k * cellSize + 28);
  g.fillText("actual ↓", L / 2, 8);
  c.dataset.cells = String(k * k);
  c.dataset.total = String(counts.flat().reduce((a, b) => a + b, 0));
  return c;
}

// 0..1 -> white to dark blue
function heat(f) {
  const t = Math.max(0, Math.min(1, f));
  return `rgb(${Math.round(247 - t * 239)},${Math.round(251 - t * 203)},${Math.round(255 - t * 148)})`;
}

// -- histograms over steps ----------------------------------------------------------------------------
// wandb.Histogram is stored inline: {bins (edges), values (counts)}, or wandb's packed form
// {packedBins: {min, size, count}, values}.
function histOf(v) {
  let bins = v.bins;
  if (v.packedBins && typeof v.packedBins === "object") {
    const { min, size, count } = v.packedBins;
    bins = Array.from({ length: (count ?? v.values.length) + 1 }, (_, i) => min + i * size);
  }
  if (!Array.isArray(bins) || bins.length !== v.values.length + 1) return null;
  return { bins: bins.map(Number), values: v.values.map((x) => (typeof x === "number" ? x : 0)) };
}

// A heatmap (x: step, y: value, colour: the share of that step's count) and the selected step's
// histogram as bars; the slider picks the step (the latest at first) and marks it on the heatmap.
function histogramPanel(root, steps) {
  const hs = steps.map((s) => ({ step: s.step, ...histOf(s.value) })).filter((s) => s.bins);
  if (!hs.length) { clear(root, h("p", { class: "muted" }, "no readable histogram")); return; }
  const w = Math.max(360, Math.min(900, root.clientWidth || 640)), hgt = 220;
  const heatEl = h("div", { class: "hist-heatmap-wrap" });
  const barsEl = h("div", { class: "hist-latest" });
  const heatmap = histHeatmap(hs, w, hgt);
  heatEl.append(heatmap.canvas);
  const show = (i) => {
    heatmap.mark(i);
    clear(barsEl, h("div", { class: "small muted" }, `step ${hs[i].step}`), histBars(hs[i], Math.min(w, 520)));
    root.dataset.step = String(hs[i].step);
    root.dataset.shown = String(hs[i].step);
  };
  clear(root, hs.length > 1 ? stepSlider(hs, show) : null, heatEl, barsEl);
  show(hs.length - 1);
}

function histHeatmap(hs, w, hgt) {
  const L = 56, B = 20, T = 4, R = 8, pw = w - L - R, ph = hgt - B - T;
  let lo = Infinity, hi = -Infinity;
  for (const s of hs) {
    for (const e of s.bins) if (Number.isFinite(e)) { if (e < lo) lo = e; if (e > hi) hi = e; }
  }
  if (!(hi > lo)) { lo = (Number.isFinite(lo) ? lo : 0) - 0.5; hi = lo + 1; }
  const rows = ph;  // one value band per pixel row
  // each step's counts spread over the value bands its bins overlap (in proportion to the overlap)
  const grid = hs.map((s) => {
    const col = new Float64Array(rows);
    for (let j = 0; j < s.values.length; j++) {
      const a = s.bins[j], b = s.bins[j + 1], n = s.values[j];
      if (!(n > 0) || !Number.isFinite(a) || !Number.isFinite(b)) continue;
      const ra = ((a - lo) / (hi - lo)) * rows, rb = ((b - lo) / (hi - lo)) * rows;
      if (rb <= ra) { col[Math.min(rows - 1, Math.max(0, Math.floor(ra)))] += n; continue; }
      for (let r = Math.max(0, Math.floor(ra)); r < Math.min(rows, Math.ceil(rb)); r++) {
        col[r] += (n * (Math.min(rb, r + 1) - Math.max(ra, r))) / (rb - ra);
      }
    }
    let max = 0;
    for (const v of col) if (v > max) max = v;
    if (max > 0) for (let r = 0; r < rows; r++) col[r] /= max;
    return col;
  });
  const dpr = window.devicePixelRatio || 1;
  const c = h("canvas", { class: "hist-heatmap", width: Math.round(w * dpr), height: Math.round(hgt * dpr),
    style: { width: `${w}px`, height: `${hgt}px`, display: "block" } });
  const g = c.getContext("2d");
  const off = document.createElement("canvas");  // the plot area at one pixel per band and step column
  off.width = pw; off.height = rows;
  const og = off.getContext("2d");
  const img = og.createImageData(pw, rows);
  for (let x = 0; x < pw; x++) {
    const col = grid[Math.min(hs.length - 1, Math.floor((x / pw) * hs.length))];
    for (let r = 0; r < rows; r++) {
      const t = col[r], p = ((rows - 1 - r) * pw + x) * 4;  // high values at the top
      img.data[p] = 247 - t * 239; img.data[p + 1] = 251 - t * 203; img.data[p + 2] = 255 - t * 148;
      img.data[p + 3] = 255;
    }
  }
  og.putImageData(img, 0, 0);
  const mark = (i) => {
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.imageSmoothingEnabled = false;
    g.drawImage(off, L, T, pw, ph);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#6b7280";
    g.textAlign = "right";
    g.textBaseline = "top";
    g.fillText(fmt(hi), L - 4, T);
    g.textBaseline = "bottom";
    g.fillText(fmt(lo), L - 4, T + ph);
    g.textBaseline = "top";
    g.textAlign = "left";
    g.fillText(`step ${hs[0].step}`, L, T + ph + 4);
    g.textAlign = "right";
    g.fillText(`step ${hs[hs.length - 1].step}`, L + pw, T + ph + 4);
    const x = L + ((i + 0.5) / hs.length) * pw;
    g.strokeStyle = "#d62728";
    g.lineWidth = 1;
    g.beginPath(); g.moveTo(x, T); g.lineTo(x, T + ph); g.stroke();
  };
  c.dataset.steps = String(hs.length);
  c.addEventListener("mousemove", (ev) => {
    const rect = c.getBoundingClientRect();
    const fx = (ev.clientX - rect.left - L) / pw, fy = 1 - (ev.clientY - rect.top - T) / ph;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) { c.title = ""; return; }
    c.title = `step ${hs[Math.min(hs.length - 1, Math.floor(fx * hs.length))].step}, value ≈ ${fmt(lo + fy * (hi - lo))}`;
  });
  return { canvas: c, mark };
}

// -- Plotly, HTML, video -------------------------------------------------------------------------------
// plotly.js is served from the plotly Python package when it is installed; it is loaded once, on the
// first Plotly panel.
let plotly = null;
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotly) {
    plotly = new Promise((resolve, reject) => {
      document.head.append(h("script", { src: PLOTLY_JS,
        onload: () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load"))),
        onerror: () => reject(new Error("plotly.js is not available here (pip install plotly where the dashboard runs)")) }));
    });
  }
  return plotly;
}

async function plotlyItem(it, ctx, state) {
  const host = h("div", { class: "plotly-host", style: { width: "100%", minHeight: "360px" } });
  const wrap = h("div", { class: "media-item plotly", style: { flex: "1 1 100%", minWidth: "0" } }, host,
    h("div", { class: "small" }, h("a", { class: "muted", href: rawUrl(ctx.raw, it.ref.path, true) }, "download")));
  let P, fig;
  try {
    [P, fig] = await Promise.all([loadPlotly(), fetchJson(ctx, it.ref.path)]);
  } catch (e) {
    clear(host, h("p", { class: "muted plotly-missing" }, String(e.message || e)));
    host.style.minHeight = "0";
    return wrap;
  }
  // drawn once the element is in the page (Plotly measures its container)
  requestAnimationFrame(() => {
    P.newPlot(host, fig.data || [], fig.layout || {}, { responsive: true, displaylogo: false }).catch(() => {});
  });
  state.stops.push(() => { try { P.purge(host); } catch (_) { /* gone already */ } });
  return wrap;
}

function htmlItem(it, ctx) {
  // allow-scripts only: never allow-same-origin, so the page cannot reach this origin's API or cookie
  return h("div", { class: "media-item html", style: { flex: "1 1 100%" } },
    h("iframe", { class: "media-html", sandbox: "allow-scripts", src: rawUrl(ctx.raw, it.ref.path),
      referrerpolicy: "no-referrer", style: { width: "100%", height: "360px", border: "1px solid #e5e7eb" } }),
    h("div", { class: "small" }, h("a", { class: "muted", href: rawUrl(ctx.raw, it.ref.path, true) }, "download")));
}

function videoItem(it, ctx) {
  const src = rawUrl(ctx.raw, it.ref.path);
  // wandb.Video's default format is GIF: an image, not something a <video> plays
  const player = /\.gif$/i.test(it.ref.path)
    ? h("img", { class: "media-video-gif", src, alt: it.caption || "" })
    : h("video", { controls: true, preload: "metadata", src, style: { maxWidth: "640px", minWidth: "240px" } });
  return figure(player, it, ctx);
}

// -- point clouds ---------------------------------------------------------------------------------------
// A .pts.json file is a list of points ([x, y, z], [x, y, z, category] or [x, y, z, r, g, b]) or a
// lidar/beta scene {points, boxes: [{corners, color, label}], vectors: [{start, end, color}]}. Drawn on a
// canvas: drag to rotate, the wheel zooms, a box switches perspective/orthographic projection.
async function pointCloudItem(it, ctx, state) {
  if (!/\.pts\.json$/i.test(it.ref.path)) {
    return figure(h("p", { class: "muted" }, `no viewer for ${it.ref.path.split(".").pop()} models`), it, ctx);
  }
  const doc = await fetchJson(ctx, it.ref.path);
  const scene = Array.isArray(doc) ? { points: doc } : (doc || {});
  const view = new PointCloud(scene, state);
  return figure(view.el, it, ctx);
}

class PointCloud {
  constructor(scene, state) {
    const pts = Array.isArray(scene.points) ? scene.points : [];
    const stride = Math.max(1, Math.ceil(pts.length / MAX_POINTS));
    const n = Math.ceil(pts.length / stride);
    this.xyz = new Float32Array(n * 3);
    this.rgb = new Array(n);
    let lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let k = 0; k < n; k++) {
      const p = pts[k * stride];
      for (let a = 0; a < 3; a++) {
        const v = Number(p[a]) || 0;
        this.xyz[k * 3 + a] = v;
        lo[a] = Math.min(lo[a], v); hi[a] = Math.max(hi[a], v);
      }
    }
    const boxes = (Array.isArray(scene.boxes) ? scene.boxes : []).filter((b) => Array.isArray(b.corners) && b.corners.length === 8);
    for (const b of boxes) for (const c of b.corners) for (let a = 0; a < 3; a++) { lo[a] = Math.min(lo[a], c[a]); hi[a] = Math.max(hi[a], c[a]); }
    if (!n && !boxes.length) { lo = [0, 0, 0]; hi = [1, 1, 1]; }
    this.center = lo.map((l, a) => (l + hi[a]) / 2);
    this.scale = 2 / Math.max(1e-9, ...hi.map((x, a) => x - lo[a]));  // the scene fits in [-1, 1]
    for (let k = 0; k < n; k++) {
      const p = pts[k * stride];
      if (p.length >= 6) this.rgb[k] = `rgb(${+p[3] | 0},${+p[4] | 0},${+p[5] | 0})`;
      else if (p.length === 4) this.rgb[k] = color(Math.abs(Math.round(Number(p[3]) || 0)));
      else {  // no colour given: by height (z), blue low to red high
        const t = (this.xyz[k * 3 + 2] - lo[2]) / Math.max(1e-9, hi[2] - lo[2]);
        this.rgb[k] = `hsl(${Math.round(240 - 240 * t)},70%,50%)`;
      }
    }
    this.boxes = boxes;
    this.vectors = (Array.isArray(scene.vectors) ? scene.vectors : []).filter((v) => Array.isArray(v.start) && Array.isArray(v.end));
    this.yaw = 0.6; this.pitch = 0.5; this.zoom = 1; this.perspective = true;
    this.w = 480; this.hgt = 360;
    [this.canvas, this.g] = canvas(this.w, this.hgt, "pointcloud");
    this.canvas.style.cursor = "grab";
    this.canvas.style.background = "#111";
    this.canvas.dataset.points = String(pts.length);
    this.bind(state);
    const proj = h("input", { type: "checkbox", class: "perspective", checked: true,
      onchange: (e) => { this.perspective = e.target.checked; this.draw(); } });
    this.el = h("div", { class: "pointcloud-view" }, this.canvas,
      h("div", { class: "controls small" }, h("label", {}, proj, " perspective"),
        h("span", { class: "muted" }, `${pts.length} points${stride > 1 ? ` (every ${stride}th drawn)` : ""} · drag to rotate, wheel to zoom`)));
    this.draw();
  }

  bind(state) {
    let last = null;
    this.canvas.addEventListener("pointerdown", (e) => {
      last = [e.clientX, e.clientY];
      this.canvas.setPointerCapture(e.pointerId);
      this.canvas.style.cursor = "grabbing";
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!last) return;
      this.yaw += (e.clientX - last[0]) * 0.01;
      this.pitch = Math.max(-1.5, Math.min(1.5, this.pitch + (e.clientY - last[1]) * 0.01));
      last = [e.clientX, e.clientY];
      this.draw();
    });
    const up = () => { last = null; this.canvas.style.cursor = "grab"; };
    this.canvas.addEventListener("pointerup", up);
    this.canvas.addEventListener("pointercancel", up);
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom = Math.max(0.2, Math.min(20, this.zoom * Math.exp(-e.deltaY * 0.001)));
      this.draw();
    }, { passive: false });
    state.stops.push(up);
  }

  // world -> [screen x, screen y, depth]; z is up, the camera looks at the centre from `yaw`/`pitch`
  project(x, y, z) {
    x = (x - this.center[0]) * this.scale; y = (y - this.center[1]) * this.scale; z = (z - this.center[2]) * this.scale;
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw), cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    const x1 = cy * x - sy * y, y1 = sy * x + cy * y;  // about z
    const y2 = cp * y1 - sp * z, z2 = sp * y1 + cp * z;  // about the screen's x axis
    const f = (Math.min(this.w, this.hgt) / 2.4) * this.zoom;
    const k = this.perspective ? 3 / (3 + y2) : 1;  // y2: depth, away from the camera
    return [this.w / 2 + x1 * f * k, this.hgt / 2 - z2 * f * k, y2];
  }

  draw() {
    const g = this.g, n = this.rgb.length;
    g.clearRect(0, 0, this.w, this.hgt);
    const sx = new Float32Array(n), sy = new Float32Array(n), depth = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const [a, b, d] = this.project(this.xyz[k * 3], this.xyz[k * 3 + 1], this.xyz[k * 3 + 2]);
      sx[k] = a; sy[k] = b; depth[k] = d;
    }
    const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => depth[b] - depth[a]);  // far first
    const size = n > 20_000 ? 1.5 : 2.5;
    for (const k of order) {
      if (depth[k] <= -2.9 && this.perspective) continue;  // behind the camera
      g.fillStyle = this.rgb[k];
      g.fillRect(sx[k] - size / 2, sy[k] - size / 2, size, size);
    }
    g.lineWidth = 1.5;
    for (const b of this.boxes) {
      const c = b.corners.map((p) => this.project(p[0], p[1], p[2]));
      g.strokeStyle = Array.isArray(b.color) ? `rgb(${b.color.map((v) => +v | 0).join(",")})` : "#0f0";
      g.beginPath();
      // corners come from itertools.product((-1, 1), repeat=3): an edge joins two that differ in one bit
      for (let i = 0; i < 8; i++) for (const bit of [1, 2, 4]) if (!(i & bit)) { g.moveTo(c[i][0], c[i][1]); g.lineTo(c[i | bit][0], c[i | bit][1]); }
      g.stroke();
      if (b.label !== undefined && b.label !== null) { g.fillStyle = g.strokeStyle; g.fillText(String(b.label), c[7][0] + 3, c[7][1]); }
    }
    for (const v of this.vectors) {
      const a = this.project(...v.start), b = this.project(...v.end);
      g.strokeStyle = Array.isArray(v.color) ? `rgb(${v.color.map((x) => +x | 0).join(",")})` : "#fff";
      g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke();
    }
  }
}
