// One run: overview (identity, config, summary, metadata, how to reproduce it, its git diff), charts,
// system metrics, the console, files and media. A live run's charts, console and system metrics follow
// the new bytes of their files.

import { get, text, rawUrl, jsonLines } from "./api.js";
import { h, clear, link, fmtTime, fmtDuration, fmtBytes, badge, kvTable, flatten } from "./dom.js";
import { setCrumbs } from "./app.js";
import { color, fromBuckets, Chart } from "./chart.js";
import { ChartGrid, controls, defaultSettings } from "./grid.js";
import { Follow } from "./live.js";

const TABS = [["charts", "Charts"], ["overview", "Overview"], ["system", "System"], ["console", "Console"],
  ["files", "Files"], ["media", "Media"]];
const CONSOLE_TAIL = 256 * 1024;  // bytes of output.log shown at first; older ones are a download away
const BUCKETS = 1500;

export async function runPage(main, [project, id], params) {
  const P = encodeURIComponent(project), R = encodeURIComponent(id);
  const [doc, meta] = await Promise.all([get(`/projects/${P}/runs/${R}`), get(`/projects/${P}/runs/${R}/metrics`)]);
  const label = doc.name || doc.id;
  setCrumbs(link(`#/p/${P}`, project), link(`#/p/${P}/r/${R}`, label));
  const live = doc.state === "running";
  const stops = [];
  const tab = TABS.some(([t]) => t === params.get("tab")) ? params.get("tab") : "charts";
  const body = h("div", { class: "tab-body" });
  clear(main,
    h("div", { class: "run-head" },
      h("h1", {}, label, " ", badge(doc.state)),
      h("div", { class: "muted" }, `${doc.id} · created ${fmtTime(doc.created)} · runtime ${fmtDuration(doc.runtime)}`,
        doc.tags.length ? " · " : "", doc.tags.map((t) => h("span", { class: "tag" }, t))),
      doc.notes ? h("p", { class: "notes" }, doc.notes) : null),
    h("nav", { class: "tabs" }, TABS.map(([t, name]) =>
      h("a", { href: `#/p/${P}/r/${R}?tab=${t}`, class: t === tab ? "active" : "" }, name))),
    body);

  const segStart = doc.segments.length ? doc.segments[doc.segments.length - 1] : null;
  const runtimeOf = (row) => (segStart ? row._timestamp - segStart[0] + segStart[2] : row._timestamp - doc.created);

  if (tab === "charts") {
    const settings = defaultSettings();
    const metrics = meta.metrics.filter((m) => !m.hidden);
    const bar = h("div", {});
    const box = h("div", {});
    body.append(bar, box);
    // The first paint asks for every metric at once (one request, the server's min/max pyramids);
    // a zoom asks again for that chart's range.
    let first = null;
    const grid = new ChartGrid(box, { settings, load: async (metric, xAxis, range) => {
      let b;
      if (!range && xAxis === "_step") {
        first = first || get(`/projects/${P}/runs/${R}/history/downsample`, { keys: metrics.filter((m) => !m.step_metric).map((m) => m.name), buckets: BUCKETS });
        b = (await first).metrics[metric.name];
      }
      if (!b) {
        const out = await get(`/projects/${P}/runs/${R}/history/downsample`, { keys: [metric.name], buckets: BUCKETS, x_axis: xAxis,
          min_step: range ? range.min_step : undefined, max_step: range ? range.max_step : undefined });
        b = out.metrics[metric.name];
      }
      return [fromBuckets(b, label, 0)];
    } });
    bar.append(controls(settings, metrics.map((m) => m.name), (s, what) => { if (what === "x") first = null; grid.apply(s, what); }));
    grid.setMetrics(metrics);
    stops.push(() => grid.destroy());
    if (live) {
      const f = new Follow(meta.files.history.url, meta.files.history.size || 0, { onRows: (rows) => grid.appendRows(label, rows, runtimeOf) });
      stops.push(() => f.stop());
    }
  } else if (tab === "overview") {
    body.append(await overview(doc, meta));
  } else if (tab === "system") {
    stops.push(await system(body, meta, live));
  } else if (tab === "console") {
    stops.push(await consoleTab(body, meta, live));
  } else if (tab === "files") {
    body.append(filesTab(doc, meta));
  } else if (tab === "media") {
    const none = h("p", { class: "muted" }, "No media logged.");
    if (!meta.media.length) body.append(none);
    const { mediaPanel } = await import("./media.js");
    const listeners = [];
    const subscribe = live ? (fn) => listeners.push(fn) : null;
    const shown = new Set();
    const panel = (key, type) => {
      shown.add(key);
      none.remove();
      const el = h("section", { class: "media-panel", dataset: { key, type } }, h("h3", {}, key));
      body.append(el);
      const inner = h("div", {});
      el.append(inner);
      mediaPanel(inner, { project, run: id, key, type, raw: meta.raw, doc, subscribe }).then((done) => stops.push(done), (e) =>
        inner.append(h("p", { class: "error" }, String(e.message || e))));
    };
    meta.media.forEach((m) => panel(m.key, m.type));
    if (live) {
      // a live run's new rows, read once for all the panels; a key logged for the first time gets its
      // panel (which reads its values so far, then follows them too)
      const f = new Follow(meta.files.history.url, meta.files.history.size || 0, { onRows: (rows) => {
        listeners.forEach((fn) => fn(rows));
        for (const row of rows) {
          for (const [k, v] of Object.entries(flatten(row))) {
            const ref = Array.isArray(v) ? v[0] : v;
            if (!shown.has(k) && ref && typeof ref === "object" && typeof ref._type === "string") panel(k, ref._type);
          }
        }
      } });
      stops.push(() => f.stop());
    }
  }
  return () => stops.forEach((f) => f());
}

async function overview(doc, meta) {
  const md = doc.metadata || {};
  const git = md.git || {};
  const args = (md.args || doc.info.args || []).map(String);
  const program = md.program || doc.info.program;
  const shellQuote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const command = program ? ["python", program, ...args].map(shellQuote).join(" ") : "";
  const identity = {
    id: doc.id, name: doc.name, project: doc.project, state: doc.state, "exit code": doc.exit_code,
    created: fmtTime(doc.created), runtime: fmtDuration(doc.runtime), "last step": doc.last_step,
    group: doc.group, "job type": doc.job_type, sweep: doc.sweep, host: md.host, python: md.python,
  };
  const out = h("div", { class: "overview" },
    h("section", {}, h("h2", {}, "Run"), kvTable(Object.fromEntries(Object.entries(identity).filter(([, v]) => v !== null && v !== undefined && v !== "")))),
    h("section", {}, h("h2", {}, "Reproduce"),
      command ? h("pre", { class: "command" }, (md.cwd ? `cd ${shellQuote(md.cwd)}\n` : "") + command) : h("p", { class: "muted" }, "No command recorded."),
      h("pre", { class: "command" }, `runstore restore ${doc.id}   # checks out the commit and applies diff.patch`),
      git.commit ? h("p", {}, "git ", h("code", {}, git.commit), git.branch ? ` on ${git.branch}` : "", git.remote ? ` (${git.remote})` : "") : null),
    h("section", {}, h("h2", {}, "Config"), kvTable(flatten(doc.config), { empty: "No config." })),
    h("section", {}, h("h2", {}, "Summary"), kvTable(Object.fromEntries(Object.entries(flatten(doc.summary)).filter(([k]) => !k.startsWith("_"))), { empty: "No summary." })),
    h("section", {}, h("h2", {}, "Metadata"), kvTable(flatten(md), { empty: "No metadata." })));
  const diff = meta.files.diff;
  if (diff.size) {
    const box = h("section", { class: "diff" }, h("h2", {}, "diff.patch"));
    out.append(box);
    try {
      box.append(renderPatch(await text(diff.url)));
    } catch (e) {
      box.append(h("p", { class: "error" }, String(e.message || e)));
    }
  }
  return out;
}

// A unified diff with its lines colored by kind.
export function renderPatch(patch) {
  const lines = patch.split("\n");
  return h("pre", { class: "patch" }, lines.map((line) => {
    const kind = line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ") ? "file"
      : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
    return h("span", { class: `line ${kind}` }, line, "\n");
  }));
}

// System metrics (system.jsonl): one chart per key, grouped as wandb does (cpu, memory, gpu, disk,
// network, process).
async function system(body, meta, live) {
  const f = meta.files.system;
  if (!f.size && !live) { body.append(h("p", { class: "muted" }, "No system metrics were sampled.")); return () => {}; }
  const bytes = new Uint8Array(await (await fetch(f.url, { credentials: "same-origin" })).arrayBuffer());
  const { rows, used } = jsonLines(bytes);
  const charts = new Map();
  const grid = h("div", { class: "chart-grid" });
  body.append(grid);
  const x0 = rows.length ? rows[0]._timestamp : 0;
  const add = (batch) => {
    for (const row of batch) {
      for (const [k, v] of Object.entries(flatten(row))) {
        if (k.startsWith("_") || typeof v !== "number") continue;
        let c = charts.get(k);
        if (!c) {
          c = new Chart(grid, { title: k, height: 160 });
          c.series = [{ label: k, color: color(charts.size), x: [], y: [] }];
          charts.set(k, c);
        }
        c.series[0].x.push(row._runtime ?? row._timestamp - x0);
        c.series[0].y.push(v);
      }
    }
    [...charts.values()].sort((a, b) => a.opts.title.localeCompare(b.opts.title)).forEach((c) => grid.append(c.el));
    charts.forEach((c) => c.draw());
  };
  add(rows);
  if (!live) return () => {};
  const follow = new Follow(f.url, used, { onRows: add });
  return () => follow.stop();
}

async function consoleTab(body, meta, live) {
  const f = meta.files.output;
  const pre = h("pre", { class: "console" });
  body.append(h("div", { class: "muted small" }, f.size > CONSOLE_TAIL ? "The last 256 KiB; " : "",
    h("a", { href: rawUrl(meta.raw, "output.log", true) }, "download output.log")), pre);
  const start = Math.max(0, (f.size || 0) - CONSOLE_TAIL);
  let first = "";
  if (f.size) {
    const res = await fetch(f.url, { headers: { Range: `bytes=${start}-` }, credentials: "same-origin" });
    if (res.ok) first = new TextDecoder().decode(await res.arrayBuffer());
  }
  pre.textContent = first || (live ? "" : "(no console output)");
  if (!live) return () => {};
  const follow = new Follow(f.url, start + new TextEncoder().encode(first).length, { onText: (t) => {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(t);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  } });
  return () => follow.stop();
}

function filesTab(doc, meta) {
  const files = doc.files || [];
  if (!files.length) return h("p", { class: "muted" }, "No files.");
  return h("table", { class: "grid files" },
    h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "size"), h("th", {}, "updated"), h("th", {}, ""))),
    h("tbody", {}, files.map((f) => h("tr", {},
      h("td", {}, h("a", { href: rawUrl(meta.raw, f.name), target: "_blank", rel: "noopener" }, f.name)),
      h("td", { class: "num" }, fmtBytes(f.size)),
      h("td", {}, f.updated_at ? new Date(f.updated_at).toLocaleString() : ""),
      h("td", {}, h("a", { href: rawUrl(meta.raw, f.name, true) }, "download"))))));
}


