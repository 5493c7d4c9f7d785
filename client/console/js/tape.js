// The trade tape: GET /v1/markets/{symbol}/trades, then the trades.{symbol} channel; newest
// first, each trade once (by its seq), coloured by the aggressor's side.

import { clock, el, replaceRows } from "./dom.js";

const KEPT = 60;

export class Tape {
  constructor(tbody) {
    this.tbody = tbody;
    this.trades = new Map(); // seq -> {seq, price, qty, aggressor_side, ts}
  }

  reset(trades = []) {
    this.trades = new Map();
    this.add(trades);
  }

  add(trades) {
    for (const t of trades) {
      this.trades.set(Number(t.seq), { ...t, ts: t.ts ?? t.ts_ns });
    }
    const seqs = [...this.trades.keys()].sort((a, b) => b - a);
    for (const seq of seqs.slice(KEPT)) this.trades.delete(seq);
    this.render();
  }

  render() {
    const rows = [...this.trades.values()]
      .sort((a, b) => Number(b.seq) - Number(a.seq))
      .map((t) =>
        el(
          "tr",
          { className: t.aggressor_side === "BUY" ? "buy" : "sell", dataset: { seq: String(t.seq) } },
          el("td", { className: "dim" }, clock(t.ts)),
          el("td", { className: "num price" }, t.price),
          el("td", { className: "num qty" }, t.qty),
        ),
      );
    replaceRows(this.tbody, rows, "no trades yet", 3);
  }
}
