// The first page: the store's projects, and its sweeps.

import { get } from "./api.js";
import { h, clear, link, fmtTime, badge } from "./dom.js";
import { setCrumbs } from "./app.js";

export async function projectsPage(main) {
  setCrumbs();
  const [{ projects }, { sweeps }] = await Promise.all([get("/projects"), get("/sweeps").catch(() => ({ sweeps: [] }))]);
  clear(main,
    h("h1", {}, "Projects"),
    projects.length
      ? h("ul", { class: "projects" }, projects.map((p) => h("li", {},
          link(`#/p/${encodeURIComponent(p)}`, p), " ",
          h("a", { class: "small", href: `#/p/${encodeURIComponent(p)}/artifacts` }, "artifacts"))))
      : h("p", { class: "muted" }, "No runs yet: log one with `import runstore as wandb; wandb.init()`."),
    sweeps.length ? h("h2", {}, "Sweeps") : null,
    sweeps.length
      ? h("table", { class: "grid" },
          h("thead", {}, h("tr", {}, ["sweep", "project", "method", "metric", "state", "runs", "created"].map((c) => h("th", {}, c)))),
          h("tbody", {}, sweeps.map((s) => h("tr", { dataset: { sweep: s.id } },
            h("td", {}, link(`#/sweeps/${encodeURIComponent(s.id)}`, s.name || s.id),
              s.name && s.name !== s.id ? h("span", { class: "muted small" }, ` ${s.id}`) : null),
            h("td", {}, s.project ? link(`#/p/${encodeURIComponent(s.project)}`, s.project) : ""),
            h("td", {}, s.method || (s.config && s.config.method) || ""),
            h("td", {}, s.metric && s.metric.name ? `${s.metric.name} (${s.metric.goal || "minimize"})` : ""),
            h("td", {}, badge(String(s.state || "").toLowerCase())),
            h("td", { class: "num" }, `${s.runs ?? ""}${s.expected_run_count ? ` of ${s.expected_run_count}` : ""}`),
            h("td", {}, fmtTime(s.created ?? (s.created_at ? Date.parse(s.created_at) / 1000 : null)))))))
      : null);
}
