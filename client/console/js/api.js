// The public REST API (docs/openapi.json), as the Python client calls it: JSON bodies whose
// prices and quantities are decimal strings, the access token in Authorization, an
// Idempotency-Key on each new order, and errors as problem+json.

export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

// What a user is shown of a problem+json answer: its detail (else its title), and each field
// a validation error names.
export function describe(status, problem) {
  if (!problem || typeof problem !== "object") return `the API answered ${status}`;
  const head = problem.detail || problem.title || problem.message || `the API answered ${status}`;
  const fields = Array.isArray(problem.errors)
    ? problem.errors.map((e) => [e.field, e.message].filter(Boolean).join(": ")).filter(Boolean)
    : [];
  return fields.length ? `${head} (${fields.join("; ")})` : head;
}

// A random UUID (v4) from getRandomValues, which, unlike crypto.randomUUID, needs no secure
// context (a console opened over plain HTTP on a LAN address).
export function uuid4() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const segment = (value) => encodeURIComponent(value);

export class Api {
  constructor(baseUrl, auth) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.auth = auth;
  }

  async request(method, path, { body, query, auth = true, idempotencyKey } = {}) {
    const headers = { Accept: "application/json" };
    if (auth) {
      const token = await this.auth.accessToken();
      if (!token) throw new ApiError(401, { detail: "Sign in first." });
      headers.Authorization = token;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
    }
    const url = `${this.baseUrl}${path}${search.size ? `?${search}` : ""}`;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, { detail: `The API is unreachable: ${error.message}` });
    }
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = { detail: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  }

  // -- public market data ------------------------------------------------------------------
  markets() {
    return this.request("GET", "/v1/markets", { auth: false });
  }

  ticker(symbol) {
    return this.request("GET", `/v1/markets/${segment(symbol)}/ticker`, { auth: false });
  }

  trades(symbol, limit = 50) {
    return this.request("GET", `/v1/markets/${segment(symbol)}/trades`, { auth: false, query: { limit } });
  }

  candles(symbol, interval, limit = 300) {
    return this.request("GET", `/v1/markets/${segment(symbol)}/candles`, {
      auth: false,
      query: { interval, limit },
    });
  }

  // -- the signed-in user's --------------------------------------------------------------
  balances() {
    return this.request("GET", "/v1/balances");
  }

  orders(status, limit = 100) {
    return this.request("GET", "/v1/orders", { query: { status, limit } });
  }

  fills(limit = 50) {
    return this.request("GET", "/v1/fills", { query: { limit } });
  }

  // body: {symbol, side, order_type, qty, price?, stop_price?, tif, post_only?}, strings as typed.
  placeOrder(body) {
    return this.request("POST", "/v1/orders", { body, idempotencyKey: uuid4() });
  }

  amendOrder(orderId, changes) {
    return this.request("PATCH", `/v1/orders/${segment(orderId)}`, { body: changes, idempotencyKey: uuid4() });
  }

  cancelOrder(orderId) {
    return this.request("DELETE", `/v1/orders/${segment(orderId)}`, { idempotencyKey: uuid4() });
  }
}
