// The trading console: boots from config.json (client/console/README.md) and talks to the
// exchange through its public REST and WebSocket APIs only, as any client does.

import { Account } from "./js/account.js";
import { Api } from "./js/api.js";
import { CognitoAuth } from "./js/auth.js";
import { GapError, LocalBook, renderBook } from "./js/book.js";
import { CandleChart } from "./js/chart.js";
import { $, notice } from "./js/dom.js";
import { OrderForm } from "./js/order_form.js";
import { Stream } from "./js/stream.js";
import { Tape } from "./js/tape.js";

const PRIVATE = ["orders", "balances"];

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  const config = await response.json();
  for (const key of ["api_url", "ws_url", "user_pool_client_id", "region"]) {
    if (!config[key]) throw new Error(`config.json has no ${key}`);
  }
  return config;
}

class Console {
  constructor(config) {
    this.auth = new CognitoAuth({
      endpoint: config.cognito_endpoint,
      clientId: config.user_pool_client_id,
      region: config.region,
    });
    this.api = new Api(config.api_url, this.auth);
    this.stream = new Stream(config.ws_url, this.auth);
    this.account = new Account(this.api);
    this.tape = new Tape($("trades"));
    this.chart = new CandleChart($("chart"));
    this.markets = new Map();
    this.symbol = null;
    this.interval = $("interval").value;
    this.book = new LocalBook("");
    this.form = new OrderForm({
      api: this.api,
      auth: this.auth,
      symbol: () => this.symbol,
      onPlaced: () => this.account.loadOrders().catch(() => {}),
    });
  }

  async start() {
    this.wireStream();
    this.wireSignIn();
    $("market").addEventListener("change", (e) => this.selectMarket(e.target.value));
    $("interval").addEventListener("change", (e) => this.selectInterval(e.target.value));
    const { markets } = await this.api.markets();
    for (const market of markets) this.markets.set(market.symbol, market);
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = this.markets.has(wanted) ? wanted : this.markets.has("BTC-USD") ? "BTC-USD" : markets[0]?.symbol;
    $("market").replaceChildren(...markets.map((m) => new Option(m.symbol, m.symbol, false, m.symbol === first)));
    this.account.render();
    await this.selectMarket(first);
    await this.stream.connect();
  }

  // -- market data -----------------------------------------------------------------------
  channels(symbol = this.symbol, interval = this.interval) {
    return [`book.${symbol}`, `trades.${symbol}`, `ticker.${symbol}`, `candles.${symbol}.${interval}`];
  }

  async selectMarket(symbol) {
    if (this.symbol) for (const channel of this.channels()) this.stream.unsubscribe(channel);
    this.symbol = symbol;
    history.replaceState(null, "", `#${symbol}`);
    const market = this.markets.get(symbol);
    $("qty").placeholder = market.lot_size;
    $("price").placeholder = market.tick_size;
    $("stop-price").placeholder = market.tick_size;
    this.chart.useTick(market.tick_size);
    this.book = new LocalBook(symbol);
    this.drawBook();
    for (const channel of this.channels()) this.stream.subscribe(channel);
    await Promise.all([this.loadTrades(), this.loadCandles(), this.loadTicker()]).catch((e) => notice(e.message));
  }

  async selectInterval(interval) {
    this.stream.unsubscribe(`candles.${this.symbol}.${this.interval}`);
    this.interval = interval;
    this.stream.subscribe(`candles.${this.symbol}.${interval}`);
    await this.loadCandles().catch((e) => notice(e.message));
  }

  async loadTrades() {
    const symbol = this.symbol;
    const answer = await this.api.trades(symbol, 50);
    if (symbol === this.symbol) this.tape.reset(answer.trades || []);
  }

  async loadCandles() {
    const [symbol, interval] = [this.symbol, this.interval];
    const answer = await this.api.candles(symbol, interval, 300);
    if (symbol === this.symbol && interval === this.interval) this.chart.reset(answer.candles || []);
  }

  async loadTicker() {
    const symbol = this.symbol;
    const ticker = await this.api.ticker(symbol);
    if (symbol === this.symbol) this.showTicker(ticker);
  }

  showTicker(t) {
    const parts = [`last ${t.last ?? "—"}`];
    if (t.change_pct_24h != null) parts.push(`24h ${t.change_pct_24h}%`);
    if (t.volume_24h != null) parts.push(`vol ${t.volume_24h}`);
    $("ticker").textContent = parts.join(" · ");
  }

  drawBook() {
    renderBook(this.book, { onPick: (price) => this.form.setPrice(price) });
  }

  wireStream() {
    const stream = this.stream;
    stream.onState = (state) => {
      $("connection").textContent = state;
      $("connection").dataset.state = state.startsWith("live") ? "live" : "down";
    };
    stream.on("connected", () => {
      this.book.reset(); // subscriptions start afresh: a new snapshot comes
      this.drawBook();
    });
    // Once a channel is subscribed, every later change comes as a frame; what happened before
    // (while connecting, or away) is read over REST now, so nothing falls in between.
    stream.on("subscribed", (frame) => {
      const reload = {
        [`trades.${this.symbol}`]: () => this.loadTrades(),
        [`candles.${this.symbol}.${this.interval}`]: () => this.loadCandles(),
        orders: () => this.auth.signedIn && Promise.all([this.account.loadOrders(), this.account.loadFills()]),
        balances: () => this.auth.signedIn && this.account.loadBalances(),
      }[frame.channel];
      if (reload) Promise.resolve(reload()).catch((e) => notice(e.message));
    });
    stream.on("snapshot", (frame) => this.onBook(frame, () => this.book.applySnapshot(frame)));
    stream.on("book", (frame) => this.onBook(frame, () => this.book.applyFrame(frame)));
    stream.on("trades", (frame) => {
      if (frame.channel === `trades.${this.symbol}`) this.tape.add(frame.trades || []);
    });
    stream.on("candle", (frame) => {
      if (frame.channel === `candles.${this.symbol}.${this.interval}`) this.chart.update(frame);
    });
    stream.on("ticker", (frame) => {
      if (frame.channel === `ticker.${this.symbol}`) this.showTicker(frame);
    });
    stream.on("orders", (frame) => this.account.onOrdersFrame(frame));
    stream.on("balances", (frame) => this.account.onBalancesFrame(frame));
    stream.on("error", (frame) => {
      if (frame.code === "snapshot_unavailable") {
        setTimeout(() => stream.resubscribe(`book.${this.symbol}`), 1000);
      } else {
        console.warn("stream error", frame.code, frame.message);
      }
    });
  }

  onBook(frame, apply) {
    if (frame.channel !== `book.${this.symbol}`) return;
    try {
      apply();
    } catch (error) {
      if (!(error instanceof GapError)) throw error;
      console.warn(`book ${this.symbol}: ${error.message}; resubscribing`);
      this.book.reset();
      this.stream.resubscribe(`book.${this.symbol}`);
    }
    this.drawBook();
  }

  // -- identity ----------------------------------------------------------------------------
  wireSignIn() {
    $("sign-in").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.target.querySelector("button");
      button.disabled = true;
      try {
        await this.auth.signIn($("email").value.trim(), $("password").value);
        $("password").value = "";
      } catch (error) {
        notice(`Sign-in failed: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });
    $("sign-out").addEventListener("click", () => this.auth.signOut());
    let wasSignedIn = false;
    this.auth.onChange((auth) => {
      $("sign-in").hidden = auth.signedIn;
      $("signed-in").hidden = !auth.signedIn;
      $("who").textContent = auth.email || "";
      if (auth.signedIn === wasSignedIn) return; // a token refresh: nothing else changes
      wasSignedIn = auth.signedIn;
      for (const channel of PRIVATE) {
        if (auth.signedIn) this.stream.channels.add(channel);
        else this.stream.channels.delete(channel);
      }
      if (auth.signedIn) this.account.start().catch((e) => notice(e.message));
      else this.account.stop();
      // The socket's identity is fixed at $connect: connect again as the user (or anonymously).
      this.stream.connect();
    });
  }
}

loadConfig()
  .then((config) => new Console(config).start())
  .catch((error) => {
    console.error(error);
    notice(`The console could not start: ${error.message}`, { seconds: 3600 });
  });
