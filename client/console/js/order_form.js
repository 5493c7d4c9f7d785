// Order entry: limit, market, stop (a stop-market) and stop-limit; post-only for a limit. What
// is sent is exactly what was typed (trimmed), as decimal strings: the API checks it against
// the instrument (tick, lot, band, funds) and its problem+json detail is shown when it refuses.

import { $, notice } from "./dom.js";

const SHOWS = {
  LIMIT: { price: true, stop: false, postOnly: true },
  MARKET: { price: false, stop: false, postOnly: false },
  STOP: { price: false, stop: true, postOnly: false },
  STOP_LIMIT: { price: true, stop: true, postOnly: false },
};

export class OrderForm {
  constructor({ api, auth, symbol, onPlaced }) {
    this.api = api;
    this.auth = auth;
    this.symbol = symbol; // () => the selected market
    this.onPlaced = onPlaced;
    this.form = $("order-form");
    this.result = $("order-result");
    $("order-type").addEventListener("change", () => this.layout(true));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.layout(false);
  }

  setPrice(price) {
    $("price").value = price;
  }

  layout(changed) {
    const type = $("order-type").value;
    const shows = SHOWS[type];
    this.form.querySelector('[data-for="price"]').hidden = !shows.price;
    this.form.querySelector('[data-for="stop"]').hidden = !shows.stop;
    this.form.querySelector('[data-for="post-only"]').hidden = !shows.postOnly;
    if (changed) $("tif").value = type === "MARKET" || type === "STOP" ? "IOC" : "GTC";
  }

  body() {
    const type = $("order-type").value;
    const shows = SHOWS[type];
    const body = {
      symbol: this.symbol(),
      side: this.form.querySelector('input[name="side"]:checked').value,
      order_type: type,
      qty: $("qty").value.trim(),
      tif: $("tif").value,
    };
    if (shows.price) body.price = $("price").value.trim();
    if (shows.stop) body.stop_price = $("stop-price").value.trim();
    if (shows.postOnly && $("post-only").checked) body.post_only = true;
    return body;
  }

  async submit() {
    if (!this.auth.signedIn) {
      this.show("Sign in to place orders.", "error");
      return;
    }
    const button = $("place");
    button.disabled = true;
    try {
      const accepted = await this.api.placeOrder(this.body());
      this.show(`Accepted: ${accepted.order_id} (${accepted.status})`, "ok");
      this.onPlaced(accepted);
    } catch (error) {
      this.show(error.message, "error");
      if (error.status === 401) notice("The API refused the sign-in: sign in again.");
    } finally {
      button.disabled = false;
    }
  }

  show(text, kind) {
    this.result.textContent = text;
    this.result.dataset.kind = kind;
  }
}
