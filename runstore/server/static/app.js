// The dashboard: a router over the location hash and the pages. Pages build the DOM with dom.js (text
// only, never HTML from data) and read the JSON API (api.js); charts are chart.js over uPlot.

import { ApiError } from "./api.js";
import { h, clear, link } from "./dom.js";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");

// Each page module exports render(main, args, query) -> cleanup function (or nothing); loaded on first
// use so the projects page does not wait for the media code.
const ROUTES = [
  [/^\/?$/, "./projects.js", "projectsPage"],
  [/^\/p\/([^/]+)$/, "./project.js", "projectPage"],
  [/^\/p\/([^/]+)\/r\/([^/]+)$/, "./run.js", "runPage"],
  [/^\/p\/([^/]+)\/compare$/, "./compare.js", "comparePage"],
  [/^\/p\/([^/]+)\/artifacts$/, "./artifacts.js", "artifactsPage"],
  [/^\/sweeps\/([^/]+)$/, "./sweeps.js", "sweepPage"],
];

let cleanup = null;
let generation = 0;

export function setCrumbs(...parts) {
  clear(crumbs, parts.flatMap((p, i) => (i ? [h("span", { class: "sep" }, "/"), p] : [p])));
}

export function showError(el, e) {
  const msg = e instanceof ApiError ? `${e.message} (${e.status})` : String(e && e.message ? e.message : e);
  clear(el, h("p", { class: "error" }, msg));
}

async function route() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, ""));
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  const mine = ++generation;
  if (cleanup) { try { cleanup(); } catch (_) { /* the old page is gone anyway */ } }
  cleanup = null;
  for (const [re, mod, fn] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    // each visit draws into its own element: a slow page that finishes after the next one was opened
    // draws into a detached element, not over it
    const root = h("div", { class: "page" }, h("p", { class: "muted" }, "Loading…"));
    clear(main, root);
    try {
      const page = await import(mod);
      if (mine !== generation) return;
      const done = await page[fn](root, m.slice(1), params);
      if (mine !== generation) { if (done) done(); return; }
      cleanup = done || null;
    } catch (e) {
      if (mine === generation) showError(root, e);
      console.warn(e);  // eslint-disable-line no-console
    }
    return;
  }
  setCrumbs();
  clear(main, h("p", { class: "error" }, "No such page. "), link("#/", "All projects"));
}

window.addEventListener("hashchange", route);
route();

