// The storefront's behaviour: live stock from the gateway's GET /events (each invalidation
// makes the page read that toy again at once), GET /products every 10 s only while that
// stream is down, buys with a fresh Idempotency-Key per order (kept across its own retry),
// and order lookups.
"use strict";

const $ = (id) => document.getElementById(id);

// The fallback poll, while the stream is down or the gateway is not following the catalog.
const POLL_MS = 10000;
// EventSource reconnects by itself after a dropped connection, but gives up for good after
// an error status (the gateway's 503 past its subscriber cap): then the page opens a new one.
const REOPEN_MS = 5000;

// crypto.randomUUID needs a secure context; a plain-http store on another host has none.
function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The contract's envelope: {"data": ...} or {"error": {"code", "message"}}.
async function call(method, path, body, headers) {
  const response = await fetch(path, {
    method,
    headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await response.json(); } catch (_) { /* not JSON: described below */ }
  if (response.ok && json && "data" in json) return json.data;
  const message = json && json.error ? json.error.message : "HTTP " + response.status;
  throw new Error(message);
}

function show(output, text, ok) {
  output.textContent = text;
  output.className = ok ? "ok" : "bad";
}

// Reads can answer out of order (a slow whole-list read after a quick read of one toy), so
// each read is numbered when sent, and a toy's row only takes what a later-sent read saw.
let sent = 0;
const shownBy = new Map(); // toy name -> number of the read its row shows
const products = new Map(); // toy name -> {name, price, quantity}

function take(list, read, whole) {
  const changed = new Set();
  for (const p of list) {
    if (read < (shownBy.get(p.name) || 0)) continue;
    const before = products.get(p.name);
    if (before && (before.quantity !== p.quantity || before.price !== p.price)) changed.add(p.name);
    shownBy.set(p.name, read);
    products.set(p.name, p);
  }
  if (whole) {
    const listed = new Set(list.map((p) => p.name));
    for (const name of [...products.keys()]) {
      if (!listed.has(name) && (shownBy.get(name) || 0) <= read) products.delete(name);
    }
  }
  render(changed);
}

function render(changed) {
  const sorted = [...products.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  $("products").tBodies[0].replaceChildren(...sorted.map((p) => {
    const row = document.createElement("tr");
    row.dataset.name = p.name;
    if (changed.has(p.name)) row.className = "changed";
    for (const [text, cls] of [[p.name, ""], [p.price.toFixed(2), "num price"], [String(p.quantity), "num stock"]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.append(cell);
    }
    return row;
  }));
  const select = $("buy-name");
  if (select.options.length !== sorted.length) {
    const chosen = select.value;
    select.replaceChildren(...sorted.map((p) => new Option(p.name, p.name)));
    if (chosen) select.value = chosen;
  }
}

async function refreshAll() {
  const read = ++sent;
  try {
    take(await call("GET", "/products"), read, true);
    showStatus();
  } catch (err) {
    $("products-status").textContent = "could not load the toys: " + err.message;
  }
}

async function refreshOne(name) {
  const read = ++sent;
  try {
    take([await call("GET", "/products/" + encodeURIComponent(name))], read, false);
    showStatus();
  } catch (_) {
    refreshAll(); // gone, or the gateway stumbled: the whole list settles it
  }
}

// The live stream. `live` is the gateway's word on whether changes are flowing.
let stream = null;
let live = false;

function streaming() {
  return stream !== null && stream.readyState === EventSource.OPEN && live;
}

function showStatus() {
  const status = $("products-status");
  status.dataset.live = String(streaming());
  status.textContent = (streaming()
    ? "live: stock changes show as they happen"
    : "live updates unavailable; checking every " + POLL_MS / 1000 + " s")
    + " \u00b7 updated " + new Date().toLocaleTimeString();
}

function openStream() {
  if (!window.EventSource) return; // an old browser: the poll alone keeps the page fresh
  stream = new EventSource("/events");
  // After hello and resync anything may have changed unseen: read every toy again.
  const resync = (event) => {
    live = JSON.parse(event.data).live === true;
    refreshAll();
  };
  stream.addEventListener("hello", resync);
  stream.addEventListener("resync", resync);
  stream.addEventListener("invalidate", (event) => refreshOne(JSON.parse(event.data).name));
  stream.onerror = () => {
    live = false;
    showStatus();
    if (stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(openStream, REOPEN_MS);
    }
  };
}

$("buy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const order = { name: $("buy-name").value, quantity: Number($("buy-quantity").value) };
  const key = newKey();
  show($("buy-result"), "buying\u2026", true);
  // One retry after a lost connection, under the same key, so it cannot buy twice.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const created = await call("POST", "/orders", order, { "Idempotency-Key": key });
      show($("buy-result"), "Order " + created.order_number + " placed: " + order.quantity + " \u00d7 " + order.name, true);
      break;
    } catch (err) {
      const lost = err instanceof TypeError;
      if (!lost || attempt === 1) show($("buy-result"), "Not bought: " + err.message, false);
      if (!lost) break;
    }
  }
  // The stream brings this buy's change too; without it, read the toy now.
  if (!streaming()) refreshOne(order.name);
});

$("lookup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = $("lookup-number").value;
  try {
    const order = await call("GET", "/orders/" + encodeURIComponent(number));
    show($("lookup-result"), "Order " + order.number + ": " + order.quantity + " \u00d7 " + order.name, true);
  } catch (err) {
    show($("lookup-result"), "Order " + number + ": " + err.message, false);
  }
});

refreshAll();
openStream();
setInterval(() => { if (!streaming()) refreshAll(); }, POLL_MS);
