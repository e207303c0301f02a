/// The page at `/browser/`: type Cypher, run it through the transactional endpoint, see a table and a graph.
///
/// One self-contained document (inline CSS and JavaScript, no external assets), because a database server may
/// have no internet access. The graph is an SVG with a small force-directed layout; nodes are labelled with
/// their first label and a name-like property, relationships with their type.
///
/// For scripted checks and links the page reads `#query=…&user=…&password=…&db=…&view=graph&run=1` from its URL
/// and runs the query on load; the result table has id `result-table` and the status line id `status`.
enum BrowserPage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trellis Browser</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: center; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  header label { font-size: 13px; }
  header input { width: 120px; margin-left: 4px; }
  main { padding: 12px 16px; }
  textarea { width: 100%; box-sizing: border-box; height: 90px; font-family: ui-monospace, monospace; font-size: 14px; }
  button { padding: 6px 18px; font-size: 14px; margin-top: 6px; cursor: pointer; }
  #status { margin-left: 12px; font-size: 13px; color: #555; }
  #errors { color: #b00020; white-space: pre-wrap; font-family: ui-monospace, monospace; margin: 8px 0; }
  .tabs { margin-top: 12px; }
  .tabs button { margin-right: 4px; }
  .tabs button.active { background: #1d2330; color: #fff; }
  table { border-collapse: collapse; background: #fff; margin-top: 8px; font-size: 13px; }
  th, td { border: 1px solid #ccd; padding: 4px 8px; text-align: left; vertical-align: top; }
  th { background: #e8eaf0; }
  td { font-family: ui-monospace, monospace; white-space: pre-wrap; }
  svg { background: #fff; border: 1px solid #ccd; margin-top: 8px; width: 100%; height: 520px; }
  .node circle { stroke: #fff; stroke-width: 2px; cursor: move; }
  .node text { font-size: 11px; pointer-events: none; text-anchor: middle; }
  .rel line { stroke: #8890a0; stroke-width: 1.5px; }
  .rel text { font-size: 10px; fill: #556; text-anchor: middle; }
</style>
</head>
<body>
<header>
  <h1>Trellis Browser</h1>
  <label>Database <input id="db" value="neo4j"></label>
  <label>User <input id="user" autocomplete="username"></label>
  <label>Password <input id="password" type="password" autocomplete="current-password"></label>
</header>
<main>
  <textarea id="query" spellcheck="false" placeholder="MATCH (n) RETURN n LIMIT 25">MATCH (n) RETURN n LIMIT 25</textarea>
  <div><button id="run">Run</button><span id="status"></span></div>
  <div id="errors"></div>
  <div class="tabs"><button id="tab-table" class="active">Table</button><button id="tab-graph">Graph</button></div>
  <div id="table-view"><table id="result-table"></table></div>
  <div id="graph-view" style="display:none"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#4c8eda", "#f79767", "#57c7e3", "#f16667", "#d9c8ae", "#8dcc93", "#ecb5c9", "#ffc454", "#da7194", "#569480"];
let animation = null;
let initialView = null;

function show(view) {
  $("table-view").style.display = view === "table" ? "" : "none";
  $("graph-view").style.display = view === "graph" ? "" : "none";
  $("tab-table").className = view === "table" ? "active" : "";
  $("tab-graph").className = view === "graph" ? "active" : "";
}

function cellText(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function renderTable(result) {
  const table = $("result-table");
  table.textContent = "";
  const head = table.createTHead().insertRow();
  for (const column of result.columns) {
    const th = document.createElement("th");
    th.textContent = column;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const record of result.data) {
    const row = body.insertRow();
    row.className = "result-row";
    for (const value of (record.row || [])) row.insertCell().textContent = cellText(value);
  }
}

function caption(node) {
  const props = node.properties || {};
  for (const key of ["name", "title", "label", "username", "id", "code"]) {
    if (props[key] !== undefined && props[key] !== null) return String(props[key]);
  }
  const keys = Object.keys(props);
  return keys.length ? String(props[keys[0]]) : "#" + node.id;
}

function collectGraph(results) {
  const nodes = new Map(), rels = new Map();
  for (const result of results) {
    for (const record of result.data) {
      if (!record.graph) continue;
      for (const n of record.graph.nodes) if (!nodes.has(n.id)) nodes.set(n.id, n);
      for (const r of record.graph.relationships) if (!rels.has(r.id)) rels.set(r.id, r);
    }
  }
  return { nodes: [...nodes.values()], rels: [...rels.values()].filter(r => nodes.has(r.startNode) && nodes.has(r.endNode)) };
}

function renderGraph(graph) {
  if (animation) cancelAnimationFrame(animation);
  const svg = $("graph");
  svg.textContent = "";
  // The graph view may be hidden while drawing; the query box always has the page's width.
  const width = svg.clientWidth || $("query").clientWidth || 900, height = svg.clientHeight || 520;
  const defs = document.createElementNS(SVGNS, "defs");
  const marker = document.createElementNS(SVGNS, "marker");
  for (const [k, v] of [["id", "arrow"], ["viewBox", "0 0 10 10"], ["refX", "10"], ["refY", "5"],
                        ["markerWidth", "7"], ["markerHeight", "7"], ["orient", "auto"]]) marker.setAttribute(k, v);
  const tip = document.createElementNS(SVGNS, "path");
  tip.setAttribute("d", "M0,0 L10,5 L0,10 z");
  tip.setAttribute("fill", "#8890a0");
  marker.appendChild(tip);
  defs.appendChild(marker);
  svg.appendChild(defs);
  const colours = new Map();
  const colourOf = (label) => {
    if (!colours.has(label)) colours.set(label, PALETTE[colours.size % PALETTE.length]);
    return colours.get(label);
  };
  const sim = graph.nodes.map((n, i) => ({
    data: n,
    x: width / 2 + Math.cos(i * 2.4) * (40 + 6 * i),
    y: height / 2 + Math.sin(i * 2.4) * (40 + 6 * i),
    vx: 0, vy: 0, fixed: false,
  }));
  const index = new Map(sim.map(s => [s.data.id, s]));
  const links = graph.rels.map(r => ({ data: r, source: index.get(r.startNode), target: index.get(r.endNode) }));
  const relGroup = document.createElementNS(SVGNS, "g");
  const nodeGroup = document.createElementNS(SVGNS, "g");
  svg.appendChild(relGroup);
  svg.appendChild(nodeGroup);
  for (const link of links) {
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "rel");
    link.line = document.createElementNS(SVGNS, "line");
    link.line.setAttribute("marker-end", "url(#arrow)");
    link.text = document.createElementNS(SVGNS, "text");
    link.text.textContent = link.data.type;
    g.appendChild(link.line);
    g.appendChild(link.text);
    relGroup.appendChild(g);
  }
  for (const s of sim) {
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "node");
    const circle = document.createElementNS(SVGNS, "circle");
    circle.setAttribute("r", 22);
    const label = (s.data.labels && s.data.labels[0]) || "";
    circle.setAttribute("fill", colourOf(label));
    const title = document.createElementNS(SVGNS, "title");
    title.textContent = JSON.stringify({ labels: s.data.labels, properties: s.data.properties });
    circle.appendChild(title);
    const text = document.createElementNS(SVGNS, "text");
    const t1 = document.createElementNS(SVGNS, "tspan");
    t1.setAttribute("x", 0);
    t1.setAttribute("dy", "-0.2em");
    t1.textContent = label;
    const t2 = document.createElementNS(SVGNS, "tspan");
    t2.setAttribute("x", 0);
    t2.setAttribute("dy", "1.2em");
    const name = caption(s.data);
    t2.textContent = name.length > 14 ? name.slice(0, 13) + "…" : name;
    text.appendChild(t1);
    text.appendChild(t2);
    g.appendChild(circle);
    g.appendChild(text);
    nodeGroup.appendChild(g);
    s.element = g;
    g.addEventListener("mousedown", (event) => {
      event.preventDefault();
      s.fixed = true;
      const move = (e) => {
        const box = svg.getBoundingClientRect();
        s.x = e.clientX - box.left;
        s.y = e.clientY - box.top;
        if (!animation) step(30);
      };
      const up = () => { s.fixed = false; window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
  }
  const draw = () => {
    for (const link of links) {
      link.line.setAttribute("x1", link.source.x);
      link.line.setAttribute("y1", link.source.y);
      // Stop the line at the target's rim so the arrowhead shows.
      const dx = link.target.x - link.source.x, dy = link.target.y - link.source.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      link.line.setAttribute("x2", link.target.x - dx / d * 24);
      link.line.setAttribute("y2", link.target.y - dy / d * 24);
      link.text.setAttribute("x", (link.source.x + link.target.x) / 2);
      link.text.setAttribute("y", (link.source.y + link.target.y) / 2 - 3);
    }
    for (const s of sim) s.element.setAttribute("transform", "translate(" + s.x + "," + s.y + ")");
  };
  // A plain force layout: pairwise repulsion, springs along relationships, a pull to the centre, damping.
  const tick = (alpha) => {
    for (let i = 0; i < sim.length; i++) {
      for (let j = i + 1; j < sim.length; j++) {
        const a = sim[i], b = sim[j];
        let dx = b.x - a.x, dy = b.y - a.y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 0.01) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = dx * dx + dy * dy; }
        const force = 2400 * alpha / d2;
        a.vx -= dx * force; a.vy -= dy * force;
        b.vx += dx * force; b.vy += dy * force;
      }
    }
    for (const link of links) {
      const dx = link.target.x - link.source.x, dy = link.target.y - link.source.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      const force = (d - 110) * 0.05 * alpha / d;
      link.source.vx += dx * force; link.source.vy += dy * force;
      link.target.vx -= dx * force; link.target.vy -= dy * force;
    }
    for (const s of sim) {
      s.vx += (width / 2 - s.x) * 0.005 * alpha;
      s.vy += (height / 2 - s.y) * 0.005 * alpha;
      if (!s.fixed) {
        s.x = Math.max(24, Math.min(width - 24, s.x + s.vx));
        s.y = Math.max(24, Math.min(height - 24, s.y + s.vy));
      }
      s.vx *= 0.6; s.vy *= 0.6;
    }
  };
  let remaining = 300;
  const step = (count) => {
    remaining = Math.max(remaining, count);
    const frame = () => {
      for (let k = 0; k < 3 && remaining > 0; k++, remaining--) tick(Math.max(0.05, remaining / 300));
      draw();
      animation = remaining > 0 ? requestAnimationFrame(frame) : null;
    };
    frame();
  };
  draw();
  step(300);
}

async function run() {
  const query = $("query").value.trim();
  if (!query) return;
  const db = encodeURIComponent($("db").value.trim() || "neo4j");
  const headers = { "Content-Type": "application/json", "Accept": "application/json;charset=UTF-8" };
  const user = $("user").value;
  if (user) headers["Authorization"] = "Basic " + btoa(unescape(encodeURIComponent(user + ":" + $("password").value)));
  $("status").textContent = "running…";
  $("errors").textContent = "";
  const started = performance.now();
  try {
    const response = await fetch("/db/" + db + "/tx/commit", {
      method: "POST",
      headers,
      body: JSON.stringify({ statements: [{ statement: query, resultDataContents: ["row", "graph"] }] }),
    });
    const body = await response.json();
    const elapsed = Math.round(performance.now() - started);
    if (body.errors && body.errors.length) {
      $("errors").textContent = body.errors.map(e => e.code + "\n" + e.message).join("\n\n");
    }
    const result = (body.results && body.results[0]) || { columns: [], data: [] };
    renderTable(result);
    const graph = collectGraph(body.results || []);
    $("status").textContent = "HTTP " + response.status + ": " + result.data.length + " rows, " +
      graph.nodes.length + " nodes, " + graph.rels.length + " relationships in " + elapsed + " ms";
    renderGraph(graph);
    if (initialView) { show(initialView); initialView = null; }
  } catch (error) {
    $("status").textContent = "failed";
    $("errors").textContent = String(error);
  }
}

$("run").addEventListener("click", run);
$("query").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
$("tab-table").addEventListener("click", () => show("table"));
$("tab-graph").addEventListener("click", () => show("graph"));

const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
for (const key of ["query", "user", "password", "db"]) if (params.has(key)) $(key).value = params.get(key);
if (params.get("view") === "graph" || params.get("view") === "table") initialView = params.get("view");
if (params.get("run") === "1") run();
</script>
</body>
</html>
"""#
}
