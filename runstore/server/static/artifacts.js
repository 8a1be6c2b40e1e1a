// A project's artifacts: its collections (name, type, versions), a collection's versions (number,
// digest, size, files, aliases, tags, created, the run that logged it), and a version's manifest and
// lineage graph (the runs that logged it, the version, the runs that used it, one more hop each way).
//
// #/p/{project}/artifacts                  the collections
// #/p/{project}/artifacts?c=NAME           ... and that collection's versions
// #/p/{project}/artifacts?c=NAME&v=vN      ... and that version

import { get } from "./api.js";
import { h, svg, clear, link, fmtTime, fmtBytes, kvTable } from "./dom.js";
import { setCrumbs, showError } from "./app.js";

const PAGE = 500;  // manifest entries per request


const enc = encodeURIComponent;
const pageHref = (project, c, v) => `#/p/${enc(project)}/artifacts` + (c ? `?c=${enc(c)}` + (v !== undefined ? `&v=${enc(v)}` : "") : "");
const runHref = (run) => {
  const i = run.lastIndexOf("/");
  return `#/p/${enc(run.slice(0, i))}/r/${enc(run.slice(i + 1))}`;
};
const runLink = (run, project) => link(runHref(run), run.startsWith(`${project}/`) ? run.slice(project.length + 1) : run);
const aliasTags = (aliases) => (aliases || []).map((a) => h("span", { class: `tag alias${a === "latest" ? " latest" : ""}`, dataset: { alias: a } }, a));

export async function artifactsPage(main, [project], params) {
  const P = enc(project);
  const want = params.get("c");
  const wantV = params.get("v");
  setCrumbs(...[link(`#/p/${P}`, project), link(`#/p/${P}/artifacts`, "artifacts"),
    want ? link(pageHref(project, want), want) : null, want && wantV ? wantV : null].filter(Boolean));
  const here = location.hash;  // a slow answer must not paint over the page navigated to meanwhile
  const { collections } = await get(`/projects/${P}/artifacts`);
  if (location.hash !== here) return;
  const listBox = h("section", { class: "artifact-collections" });
  const versionsBox = h("section", { class: "artifact-versions" });
  const detailBox = h("section", { class: "artifact-version" });
  clear(main, h("h1", {}, "Artifacts of ", project), listBox, versionsBox, detailBox);

  if (!collections.length) {
    listBox.append(h("p", { class: "muted" }, "No artifacts in this project: log one with run.log_artifact(...)."));
    return;
  }
  const types = [...new Set(collections.map((c) => c.type))].sort();
  listBox.append(h("table", { class: "grid collections" },
    h("thead", {}, h("tr", {}, ["collection", "type", "versions", "aliases", "latest", "size (latest)"].map((c) => h("th", {}, c)))),
    h("tbody", {}, types.flatMap((t) => collections.filter((c) => c.type === t).map((c) => {
      const latest = c.versions[c.versions.length - 1];
      return h("tr", { class: c.name === want ? "selected" : null, dataset: { collection: c.name } },
        h("td", {}, link(pageHref(project, c.name), c.name)),
        h("td", {}, c.type),
        h("td", { class: "num versions" }, String(c.versions.length)),
        h("td", {}, aliasTags(c.aliases.filter((a) => a !== "latest"))),
        h("td", {}, latest ? `v${latest.version}, ${fmtTime(latest.created)}` : ""),
        h("td", { class: "num" }, latest ? fmtBytes(latest.size) : ""));
    })))));

  const col = want ? collections.find((c) => c.name === want) : null;
  if (want && !col) {
    versionsBox.append(h("p", { class: "error" }, `No artifact ${want} in project ${project}.`));
    return;
  }
  if (!col) return;
  versionsBox.append(h("h2", {}, col.name, " ", h("span", { class: "muted small" }, col.type)),
    h("table", { class: "grid versions" },
      h("thead", {}, h("tr", {}, ["version", "aliases", "tags", "digest", "size", "files", "created", "logged by", "used by"].map((c) => h("th", {}, c)))),
      h("tbody", {}, [...col.versions].reverse().map((v) => h("tr", {
          class: wantV && matches(v, wantV) ? "selected" : null, dataset: { version: String(v.version) } },
        h("td", {}, link(pageHref(project, col.name, `v${v.version}`), `v${v.version}`)),
        h("td", {}, aliasTags(v.aliases)),
        h("td", {}, (v.tags || []).map((t) => h("span", { class: "tag" }, t))),
        h("td", {}, h("code", { title: v.digest }, v.digest.slice(0, 12))),
        h("td", { class: "num" }, fmtBytes(v.size)),
        h("td", { class: "num files" }, v.files === null || v.files === undefined ? "?" : String(v.files)),
        h("td", {}, fmtTime(v.created)),
        h("td", {}, v.run ? runLink(v.run, project) : h("span", { class: "muted" }, "no run")),
        h("td", {}, v.users.length ? [runLink(v.users[0], project), v.users.length > 1 ? ` +${v.users.length - 1}` : ""] : ""))))));

  if (!wantV) {
    versionsBox.append(h("p", { class: "muted small" }, "Pick a version for its files and lineage."));
    return;
  }
  try {
    await versionDetail(detailBox, project, col, wantV, here);
  } catch (e) {
    showError(detailBox, e);
  }
}

function matches(v, want) {
  return want === `v${v.version}` || want === String(v.version) || (v.aliases || []).includes(want);
}

async function versionDetail(box, project, col, version, here) {
  const path = `/projects/${enc(project)}/artifacts/${enc(col.name)}/${enc(version)}`;
  const doc = await get(path, { limit: PAGE });
  if (location.hash !== here) return;
  const info = {
    name: doc.name, type: doc.type, digest: doc.digest, size: `${fmtBytes(doc.size)} (${doc.size} bytes)`,
    files: doc.files, created: fmtTime(doc.created), description: doc.description || "",
  };
  if (doc.source) info["links"] = doc.source;
  box.append(h("h2", {}, doc.name, " ", aliasTags(doc.aliases)),
    h("div", { class: "overview" },
      h("section", {}, kvTable(info),
        h("table", { class: "kv" }, h("tbody", {},
          h("tr", {}, h("th", {}, "logged by"), h("td", {}, doc.loggers.length ? doc.loggers.map((r, i) => [i ? ", " : "", runLink(r, project)]) : "no run")),
          h("tr", {}, h("th", {}, "used by"), h("td", { class: "used-by" }, doc.users.length ? doc.users.map((r, i) => [i ? ", " : "", runLink(r, project)]) : "no run"))))),
      h("section", {}, h("h3", {}, "Metadata"), kvTable(doc.metadata, { empty: "no metadata" }))));

  box.append(h("h3", {}, "Lineage"), lineageGraph(doc.lineage, project));

  const tbody = h("tbody", {});
  const count = h("p", { class: "muted small manifest-count" });
  const more = h("button", { class: "more" }, "More files");
  let shown = 0;
  const addRows = (entries) => {
    for (const e of entries) {
      tbody.append(h("tr", { dataset: { path: e.path } },
        h("td", {}, e.url ? h("a", { href: e.url, title: "download" }, e.path) : e.path),
        h("td", { class: "num" }, fmtBytes(e.size)),
        h("td", {}, h("code", {}, e.digest)),
        h("td", {}, e.ref ? h("code", { class: "ref" }, e.ref) : "")));
    }
    shown += entries.length;
    count.textContent = `${doc.total} file${doc.total === 1 ? "" : "s"}` + (shown < doc.total ? ` (showing ${shown})` : "");
  };
  let next = doc.next_offset;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await get(path, { offset: next, limit: PAGE });
      addRows(page.entries);
      next = page.next_offset;
    } catch (e) {
      count.textContent = String(e.message || e);
    }
    more.disabled = false;
    more.hidden = next === null || next === undefined;
  });
  more.hidden = next === null || next === undefined;
  box.append(h("div", { class: "manifest-box" }, h("h3", {}, "Files"),
    doc.manifest_error ? h("p", { class: "error" }, doc.manifest_error) : null,
    count,
    h("table", { class: "grid manifest" },
      h("thead", {}, h("tr", {}, ["path", "size", "digest", "reference"].map((c) => h("th", {}, c)))), tbody),
    more));
  addRows(doc.entries);
}

// -- the lineage graph ------------------------------------------------------------------------------------
// Columns left to right (what the server numbers 0-4): artifacts the loggers used, the runs that logged
// the version, the version, the runs that used it, what those logged. Empty columns are dropped.
export function lineageGraph(graph, project) {
  const nodes = graph.nodes || [];
  if (nodes.length <= 1) {
    return h("p", { class: "muted lineage-empty" }, "No lineage: no run logged or used this version.");
  }
  const columns = [...new Set(nodes.map((n) => n.column))].sort((a, b) => a - b);
  const NW = 190, NH = 36, GX = 90, GY = 14, PAD = 10;
  const rowsOf = new Map(columns.map((c) => [c, nodes.filter((n) => n.column === c)]));
  const tallest = Math.max(...[...rowsOf.values()].map((r) => r.length));
  const W = PAD * 2 + columns.length * NW + (columns.length - 1) * GX;
  const H = PAD * 2 + tallest * NH + (tallest - 1) * GY;
  const at = new Map();
  columns.forEach((c, ci) => {
    const col = rowsOf.get(c);
    const offset = ((tallest - col.length) * (NH + GY)) / 2;
    col.forEach((n, i) => at.set(n.id, { x: PAD + ci * (NW + GX), y: PAD + offset + i * (NH + GY) }));
  });
  const mid = `lineage-arrow-${Math.random().toString(36).slice(2)}`;
  const el = svg("svg", { class: "lineage", width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                          dataset: { nodes: String(nodes.length), edges: String((graph.edges || []).length) } },
    svg("defs", {}, svg("marker", { id: mid, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#6b7280" }))));
  for (const [from, to] of graph.edges || []) {
    const a = at.get(from), b = at.get(to);
    if (!a || !b) continue;
    const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
    const back = x2 <= x1;  // a run that used what it logged: around, not through
    const d = back
      ? `M ${x1} ${y1} C ${x1 + 40} ${y1 - 60}, ${x2 - 40} ${y2 - 60}, ${x2} ${y2}`
      : `M ${x1} ${y1} C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}, ${x2} ${y2}`;
    el.append(svg("path", { class: "lineage-edge", d, fill: "none", stroke: "#9ca3af", "stroke-width": 1.5,
                            "marker-end": `url(#${mid})`, dataset: { from, to } }));
  }
  for (const n of nodes) {
    const p = at.get(n.id);
    const isRun = n.kind === "run";
    const focus = n.column === 2;
    const href = isRun
      ? `#/p/${enc(n.project || project)}/r/${enc(n.run_id || "")}`
      : pageHref(n.project || project, n.collection, `v${n.version}`);
    const title = isRun ? (n.name ? `${n.name} (${n.label})` : n.label) : `${n.label} (${n.type || "artifact"})`;
    const text = isRun ? (n.name || n.run_id || n.label) : n.label;
    const short = text.length > 24 ? `${text.slice(0, 23)}…` : text;
    el.append(svg("a", { href, class: "lineage-link" },
      svg("g", { class: `lineage-node ${n.kind}${focus ? " focus" : ""}`, dataset: { id: n.id, kind: n.kind, column: String(n.column) } },
        svg("title", {}, title),
        svg("rect", { x: p.x, y: p.y, width: NW, height: NH, rx: isRun ? 18 : 4,
                      fill: isRun ? "#eff6ff" : focus ? "#fef3c7" : "#f0fdf4",
                      stroke: isRun ? "#2563eb" : focus ? "#d97706" : "#16a34a", "stroke-width": focus ? 2 : 1 }),
        svg("text", { x: p.x + NW / 2, y: p.y + 15, "text-anchor": "middle", "font-size": 12, fill: "#111827" }, short),
        svg("text", { x: p.x + NW / 2, y: p.y + 29, "text-anchor": "middle", "font-size": 10, fill: "#6b7280" },
          isRun ? (n.project && n.project !== project ? `run · ${n.project}` : "run") : (n.type || "artifact")))));
  }
  return h("div", { class: "lineage-box", style: { overflowX: "auto" } }, el,
    graph.truncated ? h("p", { class: "muted small" }, "Some nodes were left out (more than 50 in a column).") : null);
}
