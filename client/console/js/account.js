// The signed-in user's panels: balances (GET /v1/balances, then the balances channel), open
// orders (GET /v1/orders by open status, refreshed on each orders frame) with cancel and amend,
// and fills (GET /v1/fills, refreshed on each fill). The recorder pushes an orders frame after
// it has written the record, so REST already shows what a frame announces.

import { clock, el, notice, replaceRows } from "./dom.js";

const OPEN = ["NEW", "PARTIALLY_FILLED", "PENDING_NEW"];

export class Account {
  constructor(api) {
    this.api = api;
    this.balances = new Map(); // asset -> {asset, available, held, total}
    this.orders = [];
    this.fills = [];
    this.amending = null; // the order id whose row is being amended
    this.amendInputs = null;
    this.timers = {};
    this.active = false;
  }

  start() {
    this.active = true;
    return Promise.all([this.loadBalances(), this.loadOrders(), this.loadFills()]);
  }

  stop() {
    this.active = false;
    this.balances = new Map();
    this.orders = [];
    this.fills = [];
    this.amending = null;
    this.amendInputs = null;
    this.render();
  }

  // Coalesce bursts of frames into one request per panel.
  soon(name, load) {
    clearTimeout(this.timers[name]);
    this.timers[name] = setTimeout(() => load.call(this).catch((e) => notice(e.message)), 150);
  }

  onOrdersFrame(frame) {
    if (!this.active) return;
    this.soon("orders", this.loadOrders);
    if ((frame.events || []).some((e) => e.event === "fill")) this.soon("fills", this.loadFills);
  }

  onBalancesFrame(frame) {
    if (!this.active) return;
    for (const balance of frame.balances || []) this.balances.set(balance.asset, balance);
    this.renderBalances();
  }

  async loadBalances() {
    const answer = await this.api.balances();
    if (!this.active) return;
    this.balances = new Map((answer.balances || []).map((b) => [b.asset, b]));
    this.renderBalances();
  }

  async loadOrders() {
    const pages = await Promise.all(OPEN.map((status) => this.api.orders(status)));
    if (!this.active) return;
    const byId = new Map();
    for (const page of pages) for (const order of page.orders || []) byId.set(order.order_id, order);
    // Open orders only (a page read a moment before another may hold a stale status).
    this.orders = [...byId.values()]
      .filter((o) => OPEN.includes(o.status))
      .sort((a, b) => Number(b.created_ns) - Number(a.created_ns));
    this.renderOrders();
  }

  async loadFills() {
    const answer = await this.api.fills(50);
    if (!this.active) return;
    this.fills = answer.fills || [];
    this.renderFills();
  }

  render() {
    this.renderBalances();
    this.renderOrders();
    this.renderFills();
  }

  renderBalances() {
    const rows = [...this.balances.values()]
      .sort((a, b) => a.asset.localeCompare(b.asset))
      .map((b) =>
        el(
          "tr",
          { dataset: { asset: b.asset } },
          el("td", {}, b.asset),
          el("td", { className: "num available" }, b.available),
          el("td", { className: "num held" }, b.held),
          el("td", { className: "num total" }, b.total),
        ),
      );
    replaceRows(document.getElementById("balances"), rows, this.active ? "no balances yet" : "sign in to see your balances", 4);
  }

  renderFills() {
    const rows = this.fills.map((f) =>
      el(
        "tr",
        { className: f.side === "BUY" ? "buy" : "sell", dataset: { fillId: f.fill_id, orderId: f.order_id } },
        el("td", {}, clock(f.ts_ns)),
        el("td", {}, f.symbol),
        el("td", { className: "side" }, f.side),
        el("td", { className: "num price" }, f.price),
        el("td", { className: "num qty" }, f.qty),
        el("td", { className: "num" }, `${f.fee}${f.fee_asset ? ` ${f.fee_asset}` : ""}`),
        el("td", { className: "dim" }, f.role),
      ),
    );
    replaceRows(document.getElementById("fills"), rows, this.active ? "no fills yet" : "sign in to see your fills", 7);
  }

  renderOrders() {
    const rows = this.orders.map((o) => (o.order_id === this.amending ? this.amendRow(o) : this.orderRow(o)));
    replaceRows(document.getElementById("open-orders"), rows, this.active ? "no open orders" : "sign in to see your orders", 8);
  }

  orderRow(o) {
    const price = o.price ?? (o.stop_price ? `stop ${o.stop_price}` : "market");
    return el(
      "tr",
      { className: o.side === "BUY" ? "buy" : "sell", dataset: { orderId: o.order_id } },
      el("td", {}, o.symbol),
      el("td", { className: "side" }, o.side),
      el("td", {}, o.order_type + (o.post_only ? " · post" : "")),
      el("td", { className: "num price" }, price),
      el("td", { className: "num qty" }, o.qty),
      el("td", { className: "num" }, o.filled_qty),
      el("td", { className: "dim" }, o.status),
      el(
        "td",
        { className: "actions" },
        el("button", { type: "button", className: "amend", on: { click: () => this.startAmend(o.order_id) } }, "Amend"),
        el("button", { type: "button", className: "cancel", on: { click: () => this.cancel(o.order_id) } }, "Cancel"),
      ),
    );
  }

  // The row being amended; its inputs outlive re-renders (a frame may redraw the list meanwhile).
  amendRow(o) {
    if (!this.amendInputs) {
      this.amendInputs = {
        price: el("input", { className: "amend-price", value: o.price ?? "", disabled: o.price == null, inputMode: "decimal", ariaLabel: "New price" }),
        qty: el("input", { className: "amend-qty", value: o.qty, inputMode: "decimal", ariaLabel: "New quantity" }),
      };
    }
    const { price, qty } = this.amendInputs;
    const save = async () => {
      const changes = {};
      if (o.price != null && price.value.trim() !== o.price) changes.price = price.value.trim();
      if (qty.value.trim() !== o.qty) changes.qty = qty.value.trim();
      if (Object.keys(changes).length === 0) {
        notice("Nothing to amend: change the price or the quantity.", { kind: "info", seconds: 4 });
        return;
      }
      try {
        await this.api.amendOrder(o.order_id, changes);
        this.stopAmend();
        notice("Amend sent.", { kind: "info", seconds: 3 });
        await this.loadOrders();
      } catch (error) {
        notice(`Amend refused: ${error.message}`);
      }
    };
    return el(
      "tr",
      { className: "amending", dataset: { orderId: o.order_id } },
      el("td", {}, o.symbol),
      el("td", { className: "side" }, o.side),
      el("td", {}, o.order_type),
      el("td", {}, price),
      el("td", {}, qty),
      el("td", { className: "num" }, o.filled_qty),
      el("td", { className: "dim" }, o.status),
      el(
        "td",
        { className: "actions" },
        el("button", { type: "button", className: "save", on: { click: save } }, "Save"),
        el("button", { type: "button", on: { click: () => this.stopAmend() } }, "Back"),
      ),
    );
  }

  startAmend(orderId) {
    this.amending = orderId;
    this.amendInputs = null;
    this.renderOrders();
  }

  stopAmend() {
    this.amending = null;
    this.amendInputs = null;
    this.renderOrders();
  }

  async cancel(orderId) {
    try {
      await this.api.cancelOrder(orderId);
      notice("Cancel sent.", { kind: "info", seconds: 3 });
      await this.loadOrders();
    } catch (error) {
      notice(`Cancel refused: ${error.message}`);
    }
  }
}
