// Calls to the Invoice Bridge API: the key from sessionStorage in the X-Api-Key header (never in a
// URL), JSON in and out, error answers turned into ApiError with the envelope's field errors.
const KEY = "invoiceBridge.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(value) {
  sessionStorage.setItem(KEY, value);
}

export function forgetApiKey() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.Message) || `The service answered ${status}.`);
    this.status = status;
    this.code = (body && body.Code) || "";
    // The envelope (shared/web/status.py) names it "Errors"; accept "errors" too.
    this.errors = (body && (body.Errors || body.errors)) || [];
  }
}

function headers(extra) {
  return { "X-Api-Key": apiKey(), Accept: "application/json", ...extra };
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { Message: text.slice(0, 300) };
  }
}

// Paths are relative to the site root; absolute URLs the API hands out (an export's statusUrl) are
// reduced to their path so the call stays on this origin.
export function sameOrigin(pathOrUrl) {
  if (/^https?:/i.test(pathOrUrl)) {
    const url = new URL(pathOrUrl);
    return url.pathname + url.search;
  }
  return pathOrUrl.startsWith("/") ? pathOrUrl : "/" + pathOrUrl;
}

export async function call(method, path, { body, ifMatch } = {}) {
  const extra = {};
  if (body !== undefined) extra["Content-Type"] = "application/json";
  if (ifMatch) extra["If-Match"] = ifMatch;
  const response = await fetch(sameOrigin(path), {
    method,
    headers: headers(extra),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, data);
  const etag = response.headers.get("ETag") || (data && data.version ? `"${data.version}"` : "");
  return { data, etag, status: response.status };
}

// One draft with its lines, as the tabs keep an expanded order: {draft, etag}.
export async function fetchDraft(id) {
  const { data, etag } = await call("GET", `invoicing/drafts/${id}`);
  return { draft: data, etag };
}

// Keeps a tab's expanded drafts (Map id -> {draft, etag}) in step with its fresh list: a draft no
// longer listed is dropped, and only a draft whose version differs from the one held is fetched
// again, all at once. Every change of a draft makes a new version (its ETag, DraftSummary.version),
// so an action's own answer, or an order nobody changed, is not fetched a second time.
export async function refreshExpanded(open, listed) {
  const versions = new Map(listed.map((d) => [d.draftId, d.version]));
  const stale = [];
  for (const [id, entry] of [...open]) {
    if (!versions.has(id)) open.delete(id);
    else if (entry.draft.version !== versions.get(id)) stale.push(id);
  }
  const fresh = await Promise.all(stale.map((id) => fetchDraft(id)));
  stale.forEach((id, index) => open.set(id, fresh[index]));
}

function filenameFrom(disposition, fallback) {
  const match = /filename="?([^";]+)"?/i.exec(disposition || "");
  return match ? match[1] : fallback;
}

// A file answer (PDF, CSV): fetched with the key, saved through a blob: URL.
export async function download(path, fallbackName) {
  const response = await fetch(sameOrigin(path), { headers: headers({ Accept: "*/*" }), cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, await parse(response));
  const blob = await response.blob();
  const name = filenameFrom(response.headers.get("Content-Disposition"), fallbackName);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}
