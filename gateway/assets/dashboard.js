// The dashboard's behaviour: reads GET /cluster every second and redraws the node table,
// and samples GET /metrics for the buy rate and latency.
"use strict";

const $ = (id) => document.getElementById(id);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render(view) {
  $("leader").textContent = view.leader === null ? "none" : "node " + view.leader;
  $("term").textContent = view.term === null ? "\u2013" : String(view.term);
  $("nodes").tBodies[0].replaceChildren(...view.nodes.map((node) => {
    const row = document.createElement("tr");
    row.dataset.id = node.id;
    if (node.id === view.leader) row.className = "leader";
    else if (!node.reachable) row.className = "down";
    row.append(
      cell("node " + node.id),
      cell(node.addr),
      cell(node.state || "unknown", "role"),
      cell(node.last_applied === null ? "\u2013" : String(node.last_applied), "num"),
      cell(node.reachable ? "yes" : "no", node.reachable ? "ok" : "bad"),
    );
    return row;
  }));
}

async function refresh() {
  try {
    const response = await fetch("/cluster");
    const json = await response.json();
    if (!response.ok) throw new Error(json.error ? json.error.message : "HTTP " + response.status);
    render(json.data);
    $("cluster-status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("cluster-status").textContent = "could not reach the gateway: " + err.message;
  }
}

refresh();
setInterval(refresh, 1000);

// Buys per second and p99 latency, from the gateway's Prometheus counters: successful
// POST /orders answers, and the latency histogram of POST /orders, sampled every second.
const WINDOW_SAMPLES = 300;
const samples = [];

// Prometheus text lines `name{a="b",...} value` whose labels include every wanted pair.
function series(text, name, wanted) {
  const found = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const close = line.lastIndexOf("}");
    const labels = {};
    for (const part of line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)) labels[part[1]] = part[2];
    if (Object.entries(wanted).every(([k, v]) => labels[k] === v)) found.push({ labels, value: Number(line.slice(close + 1)) });
  }
  return found;
}

function sample(text) {
  const buys = series(text, "gateway_http_requests_total", { route: "/orders", method: "POST", status: "200" })
    .reduce((sum, s) => sum + s.value, 0);
  const buckets = series(text, "gateway_http_request_duration_seconds_bucket", { route: "/orders", method: "POST" })
    .map((s) => ({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), count: s.value }))
    .sort((a, b) => a.le - b.le);
  return { t: Date.now() / 1000, buys, buckets };
}

// The sample closest to `seconds` ago (the oldest one if the history is shorter).
function ago(seconds) {
  const now = samples[samples.length - 1].t;
  return samples.find((s) => now - s.t <= seconds) || samples[0];
}

// Smallest bucket bound under which 99% of the window's buys finished.
function p99(now, then) {
  const counts = now.buckets.map((b, i) => ({ le: b.le, count: b.count - ((then.buckets[i] || {}).count || 0) }));
  const total = counts.length ? counts[counts.length - 1].count : 0;
  if (total <= 0) return null;
  const hit = counts.find((b) => b.count >= 0.99 * total);
  return hit ? hit.le : null;
}

function drawRate() {
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i].t - samples[i - 1].t;
    rates.push(dt > 0 ? Math.max(0, samples[i].buys - samples[i - 1].buys) / dt : 0);
  }
  const top = Math.max(1, ...rates);
  // The history spans the whole width, so a page opened a moment ago still shows a line.
  const span = Math.max(1, rates.length - 1);
  const points = rates.map((r, i) => (i * 300 / span).toFixed(1) + "," + (78 - r / top * 74).toFixed(1));
  $("rate-peak").textContent = top.toFixed(1);
  const seconds = Math.round(samples[samples.length - 1].t - samples[0].t);
  $("rate-span").textContent = rates.length >= WINDOW_SAMPLES - 1 ? "the last five minutes"
    : seconds < 2 ? "the time since this page opened" : "the last " + seconds + " s";
  $("rate-line").setAttribute("points", points.join(" "));
}

async function refreshBuys() {
  try {
    const response = await fetch("/metrics");
    const now = sample(await response.text());
    // A restarted gateway starts its counters again from zero.
    if (samples.length && now.buys < samples[samples.length - 1].buys) samples.length = 0;
    samples.push(now);
    if (samples.length > WINDOW_SAMPLES) samples.shift();
    const recent = ago(5);
    const dt = now.t - recent.t;
    $("buys-per-second").textContent = dt > 0 ? ((now.buys - recent.buys) / dt).toFixed(1) : "\u2013";
    const bound = p99(now, ago(60));
    $("p99").textContent = bound === null ? "\u2013" : bound === Infinity ? "> 10 s" : "\u2264 " + (bound * 1000).toFixed(1) + " ms";
    drawRate();
  } catch (_) {
    $("buys-per-second").textContent = "\u2013";
  }
}

refreshBuys();
setInterval(refreshBuys, 1000);
