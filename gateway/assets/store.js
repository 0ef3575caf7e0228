// The storefront's behaviour: polls GET /products every second for live stock, buys with
// a fresh Idempotency-Key per order (kept across its own retry), and looks orders up.
"use strict";

const $ = (id) => document.getElementById(id);

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

function renderProducts(products) {
  const body = $("products").tBodies[0];
  const select = $("buy-name");
  const chosen = select.value;
  body.replaceChildren(...products.map((p) => {
    const row = document.createElement("tr");
    row.dataset.name = p.name;
    for (const [text, cls] of [[p.name, ""], [p.price.toFixed(2), "num"], [String(p.quantity), "num stock"]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.append(cell);
    }
    return row;
  }));
  if (select.options.length !== products.length) {
    select.replaceChildren(...products.map((p) => new Option(p.name, p.name)));
    if (chosen) select.value = chosen;
  }
}

async function refreshProducts() {
  try {
    renderProducts(await call("GET", "/products"));
    $("products-status").textContent = "stock updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("products-status").textContent = "could not load the toys: " + err.message;
  }
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
  refreshProducts();
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

refreshProducts();
setInterval(refreshProducts, 1000);
