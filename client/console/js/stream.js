// The WebSocket API (README "WebSocket API"): one connection, anonymous until the user signs in
// (public channels only), then with ?token=<access token> (orders and balances too). Every
// channel is subscribed again after each (re)connect; a ping every 5 minutes keeps the
// connection under API Gateway's 10-minute idle limit, and it is renewed before the 2-hour one.

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];
const PING_MS = 5 * 60_000;
const MAX_AGE_MS = 110 * 60_000;

export class Stream {
  constructor(url, auth) {
    this.url = url;
    this.auth = auth;
    this.channels = new Set();
    this.handlers = new Map(); // frame type -> [fn]
    this.socket = null;
    this.attempt = 0;
    this.ids = 0;
    this.timers = [];
    this.generation = 0;
    this.onState = () => {};
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
  }

  subscribe(channel) {
    this.channels.add(channel);
    this.send({ action: "subscribe", channel });
  }

  unsubscribe(channel) {
    if (!this.channels.delete(channel)) return;
    this.send({ action: "unsubscribe", channel });
  }

  // (Re)subscribe one channel: a fresh book snapshot after a gap.
  resubscribe(channel) {
    this.send({ action: "unsubscribe", channel });
    this.send({ action: "subscribe", channel });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.ids += 1;
      this.socket.send(JSON.stringify({ ...message, id: String(this.ids) }));
    }
    // Not open: the channel is in this.channels and is subscribed on (re)connect.
  }

  // Connect, or reconnect now (with the current identity: after sign-in or sign-out).
  async connect() {
    this.generation += 1;
    const generation = this.generation;
    this.clearTimers();
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      old.close(1000, "reconnecting");
    }
    let token = null;
    try {
      token = await this.auth.accessToken();
    } catch {
      token = null; // signed out by a failed refresh: connect anonymously
    }
    if (generation !== this.generation) return;
    const url = new URL(this.url);
    if (token) url.searchParams.set("token", token);
    this.onState("connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.onState(token ? "live" : "live (public)");
      for (const channel of [...this.channels].sort()) this.send({ action: "subscribe", channel });
      this.timers.push(setInterval(() => this.send({ action: "ping" }), PING_MS));
      this.timers.push(setTimeout(() => this.connect(), MAX_AGE_MS));
      this.dispatch({ type: "connected" });
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.dispatch(frame);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket) return; // replaced on purpose
      this.socket = null;
      this.clearTimers();
      this.onState("reconnecting");
      const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      this.timers.push(setTimeout(() => this.connect(), wait * (0.75 + Math.random() / 2)));
    });
  }

  dispatch(frame) {
    for (const handler of this.handlers.get(frame.type) || []) {
      try {
        handler(frame);
      } catch (error) {
        console.error(`handling a ${frame.type} frame failed`, error);
      }
    }
  }

  clearTimers() {
    for (const timer of this.timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.timers = [];
  }
}
