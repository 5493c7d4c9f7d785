// The L2 book from the `book.{symbol}` channel: a snapshot, then delta frames chained by seq
// (frames before the snapshot are held; a frame that does not follow is a gap), each checked
// against the frame's CRC-32 checksum (exchange/realtime/checksum.py): a gap or a mismatch asks
// for a fresh snapshot. Levels are kept as the frames' own strings.

import { compare, isZero, normalize } from "./decimal.js";
import { el, replaceRows } from "./dom.js";

const CHECKSUM_DEPTH = 25;
const SHOWN = 12;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

// zlib's crc32 (unsigned) of a string's UTF-8 bytes.
export function crc32(text) {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export class GapError extends Error {}

export class LocalBook {
  constructor(symbol) {
    this.symbol = symbol;
    this.reset();
  }

  reset() {
    this.seq = null;
    this.sides = { BUY: new Map(), SELL: new Map() }; // normalized price -> [price, qty, orders]
    this.held = [];
  }

  get ready() {
    return this.seq !== null;
  }

  applySnapshot(frame) {
    const held = this.held;
    this.reset();
    for (const [side, levels] of [["BUY", frame.bids || []], ["SELL", frame.asks || []]]) {
      for (const [price, qty, orders] of levels) this.set(side, String(price), String(qty), orders);
    }
    this.seq = Number(frame.seq);
    this.check(frame);
    for (const pending of held) this.applyFrame(pending);
  }

  // True when the frame changed the book; GapError when frames are missing or it went wrong.
  applyFrame(frame) {
    if (this.seq === null) {
      this.held.push(frame);
      return false;
    }
    const seq = Number(frame.seq);
    if (seq <= this.seq) return false;
    if (Number(frame.prev_seq) > this.seq) throw new GapError(`expected a frame after ${this.seq}`);
    for (const delta of frame.deltas || []) {
      if (Number(delta.seq) <= this.seq) continue;
      this.set(String(delta.side).toUpperCase(), String(delta.price), String(delta.qty), delta.orders);
    }
    this.seq = seq;
    this.check(frame);
    return true;
  }

  set(side, price, qty, orders) {
    const levels = this.sides[side === "BUY" ? "BUY" : "SELL"];
    const key = normalize(price);
    if (isZero(qty)) levels.delete(key);
    else levels.set(key, [price, qty, orders]);
  }

  // Each side best first: bids highest first, asks lowest first.
  levels(side) {
    const sorted = [...this.sides[side].values()].sort((a, b) => compare(a[0], b[0]));
    return side === "BUY" ? sorted.reverse() : sorted;
  }

  check(frame) {
    if (frame.checksum === null || frame.checksum === undefined) return;
    const text = ["BUY", "SELL"]
      .map((side) => this.levels(side).slice(0, CHECKSUM_DEPTH).map(([p, q]) => `${p}:${q}`).join(","))
      .join("|");
    const got = crc32(text);
    if (got !== Number(frame.checksum)) throw new GapError(`checksum ${got}, not ${frame.checksum}`);
  }
}

// The book panel: asks above (best nearest the spread), bids below; a click on a level puts its
// price in the order form.
export function renderBook(book, { onPick }) {
  const row = (side, [price, qty, orders]) =>
    el(
      "tr",
      { className: side === "BUY" ? "bid" : "ask", title: "Use this price", on: { click: () => onPick(price) } },
      el("td", { className: "num price" }, price),
      el("td", { className: "num" }, qty),
      el("td", { className: "num dim" }, orders ?? ""),
    );
  const asks = book.levels("SELL").slice(0, SHOWN).reverse();
  const bids = book.levels("BUY").slice(0, SHOWN);
  replaceRows(document.getElementById("asks"), asks.map((l) => row("SELL", l)), book.ready ? "no asks" : "", 3);
  replaceRows(document.getElementById("bids"), bids.map((l) => row("BUY", l)), book.ready ? "no bids" : "", 3);
  const spread = document.getElementById("spread");
  spread.textContent = !book.ready
    ? "waiting for the book ..."
    : bids.length && asks.length
      ? `bid ${bids[0][0]} · ask ${asks[asks.length - 1][0]}`
      : "";
}
