// Talks to the service's HTTP API (same origin). Errors carry the API's own sentence.

/** GET `path` with query `params` (empty values dropped); resolves to the JSON body. */
export async function get(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  return answer(await fetch(url, { headers: { Accept: "application/json" } }));
}

/** POST a status change with the bearer token; resolves to `{lead, history}`. */
export function setStatus(id, status, analyst, note, token) {
  return post(`/api/leads/${encodeURIComponent(id)}/status`, { status, analyst, note }, token);
}

/**
 * POST a replay `{from, to, stations, thresholds?}` with the bearer token; resolves to
 * `{readings, leads, diff}`. `signal` aborts it.
 */
export function replay(body, token, signal) {
  return post("/api/replay", body, token, signal);
}

async function post(path, body, token, signal) {
  const resp = await fetch(path, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
    signal,
  });
  return answer(resp);
}

async function answer(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    /* not JSON: reported below */
  }
  if (!resp.ok) {
    throw new Error(body?.error ?? `HTTP ${resp.status}`);
  }
  return body;
}

const cache = new Map();

/** GET once per page load (stations, parameters, limits change only with the config). */
export function cached(path, params = {}) {
  const key = `${path}?${new URLSearchParams(params)}`;
  if (!cache.has(key)) {
    cache.set(
      key,
      get(path, params).catch((e) => {
        cache.delete(key);
        throw e;
      }),
    );
  }
  return cache.get(key);
}

/** Forgets cached answers (the stations list carries live health). */
export function forget(path) {
  for (const k of cache.keys()) if (k.startsWith(`${path}?`)) cache.delete(k);
}

const TOKEN = "riverwatch.token";
const ANALYST = "riverwatch.analyst";

/** `{token, analyst}` from sessionStorage, or null. */
export function credentials() {
  try {
    const token = sessionStorage.getItem(TOKEN);
    const analyst = sessionStorage.getItem(ANALYST);
    return token && analyst ? { token, analyst } : null;
  } catch {
    return null;
  }
}

/** Keeps the token for this tab (sessionStorage); null forgets it. */
export function setCredentials(c) {
  try {
    if (c) {
      sessionStorage.setItem(TOKEN, c.token);
      sessionStorage.setItem(ANALYST, c.analyst);
    } else {
      sessionStorage.removeItem(TOKEN);
      sessionStorage.removeItem(ANALYST);
    }
  } catch {
    /* storage off: the token lasts until reload */
  }
  window.dispatchEvent(new Event("tokenchange"));
}

/**
 * Runs `step` now and again `ms` after each run ends, until the returned function is called.
 * `step(live)` gets a function that says whether its answer is still wanted, and handles its
 * own errors.
 */
export function poll(step, ms) {
  let stopped = false;
  let timer = null;
  const live = () => !stopped;
  const run = async () => {
    await step(live);
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
