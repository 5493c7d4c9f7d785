// Exact decimal strings. Prices and quantities stay the API's strings: they are compared and
// keyed here without ever becoming floats, and what is sent back is what was typed or received.

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

export function isDecimal(text) {
  return typeof text === "string" && DECIMAL.test(text);
}

// The canonical form of a non-negative decimal string: "065000.500" -> "65000.5", "0.0" -> "0".
export function normalize(text) {
  const match = DECIMAL.exec(text);
  if (!match) throw new Error(`not a decimal: ${text}`);
  const whole = match[1].replace(/^0+(?=\d)/, "");
  const fraction = (match[2] || "").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

// -1, 0 or 1, comparing two non-negative decimal strings exactly.
export function compare(a, b) {
  const [wa, fa = ""] = normalize(a).split(".");
  const [wb, fb = ""] = normalize(b).split(".");
  if (wa.length !== wb.length) return wa.length < wb.length ? -1 : 1;
  if (wa !== wb) return wa < wb ? -1 : 1;
  const width = Math.max(fa.length, fb.length);
  const pa = fa.padEnd(width, "0");
  const pb = fb.padEnd(width, "0");
  if (pa === pb) return 0;
  return pa < pb ? -1 : 1;
}

export function isZero(text) {
  return normalize(text) === "0";
}
