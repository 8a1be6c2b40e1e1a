// The JSON API under the pages (/api/v1): the dashboard is one client of it, like Api(base_url=).

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The store writes NaN and ±Infinity as Python's json does; JSON.parse refuses them. Only when it does
// are bare NaN/Infinity tokens (outside strings) turned into strings.
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    let out = "", inStr = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inStr) {
        out += c;
        if (c === "\\") out += text[++i];
        else if (c === '"') inStr = false;
        continue;
      }
      if (c === '"') { inStr = true; out += c; continue; }
      const rest = text.startsWith("NaN", i) ? "NaN" : text.startsWith("-Infinity", i) ? "-Infinity"
        : text.startsWith("Infinity", i) ? "Infinity" : null;
      if (rest) { out += `"${rest}"`; i += rest.length - 1; continue; }
      out += c;
    }
    return JSON.parse(out);
  }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) u.append(k, String(one));
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}

async function check(res) {
  if (res.ok) return res;
  let code = "http_error", message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch (_) { /* not JSON */ }
  if (res.status === 401) onUnauthorized();
  throw new ApiError(res.status, code, message);
}

export async function get(path, params) {
  const res = await check(await fetch(API + path + qs(params), { credentials: "same-origin" }));
  return parseJson(await res.text());
}

// Bytes [start, ...) of a store file: what a live view reads to follow a file (only the new bytes,
// never the whole file again). Returns {bytes (Uint8Array), size (the file's, now)}.
export async function tail(url, start) {
  const res = await fetch(url, { headers: { Range: `bytes=${start}-` }, credentials: "same-origin" });
  if (res.status === 404) return { bytes: new Uint8Array(0), size: 0 };
  await check(res);
  const size = Number(res.headers.get("X-Runstore-Size") || 0);
  return { bytes: new Uint8Array(await res.arrayBuffer()), size };
}

// Bytes of a store file as text (whole).
export async function text(url) {
  const res = await check(await fetch(url, { credentials: "same-origin" }));
  return res.text();
}

// A run page links to a run's files here: the content type is the server's safe one (ui.py).
export function rawUrl(rawBase, name, download = false) {
  return rawBase + name.split("/").map(encodeURIComponent).join("/") + (download ? "?download=1" : "");
}

// A server behind tokens: the page asks for one, keeps it in a cookie for this site only (the server
// takes it for reads), and reloads.
let asked = false;
function onUnauthorized() {
  if (asked) return;
  asked = true;
  const token = window.prompt("This runstore server needs a token (runstore server token create --scope read):");
  if (token) {
    document.cookie = `runstore_token=${encodeURIComponent(token.trim())}; path=/; SameSite=Strict`;
    location.reload();
  }
}

// Lines of JSON (a history or system file) from bytes that may end mid-line: the rows, and how many
// bytes were used (the rest waits for the next read).
export function jsonLines(bytes) {
  const rows = [];
  const end = bytes.lastIndexOf(10) + 1;
  for (const line of new TextDecoder().decode(bytes.subarray(0, end)).split("\n")) {
    if (!line) continue;
    try { rows.push(parseJson(line)); } catch (_) { /* a torn or foreign line: skipped */ }
  }
  return { rows, used: end };
}
