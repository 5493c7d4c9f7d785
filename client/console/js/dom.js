// DOM helpers: elements are built with textContent only, never innerHTML, so nothing the API
// sends can become markup.

export const $ = (id) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found;
};

// el("td", {className: "num", dataset: {side: "BUY"}}, "65000.00", child, ...)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function replaceRows(tbody, rows, emptyText, columns) {
  if (rows.length === 0 && emptyText) {
    tbody.replaceChildren(el("tr", { className: "empty" }, el("td", { colSpan: columns }, emptyText)));
  } else {
    tbody.replaceChildren(...rows);
  }
}

// Local wall-clock time of an epoch in nanoseconds (display only: Number loses sub-µs digits).
export function clock(ns) {
  if (ns === null || ns === undefined) return "";
  const date = new Date(Number(ns) / 1e6);
  return date.toLocaleTimeString([], { hour12: false });
}

let noticeTimer = 0;
export function notice(message, { kind = "error", seconds = 8 } = {}) {
  const box = $("notice");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, seconds * 1000);
}
