// The dashboard's behaviour: reads GET /cluster every second and redraws the node table.
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
