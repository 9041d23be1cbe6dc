"use strict";
// The chemist's page: plain JavaScript against the service's own /v1 API; nothing is loaded from elsewhere.

const $ = (id) => document.getElementById(id);
const SERVER_READ = /\.sdf(\.gz)?$/i;  // files the page cannot read itself: uploaded for the server to read
const tasksOf = {};
const endpointsOf = {};

function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const key = $("apikey").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function detail(response) {
  try { return (await response.json()).detail; } catch { return response.statusText; }
}

async function loadModels() {
  const response = await fetch("/v1/models", { headers: headers(false) });
  if (!response.ok) {
    setStatus(`Could not list models (${response.status}): ${await detail(response)}`, true);
    return;
  }
  const select = $("model");
  select.replaceChildren();
  for (const m of (await response.json()).filter((m) => m.kind !== "encoder")) {
    tasksOf[m.name] = m.tasks;
    endpointsOf[m.name] = m.endpoints || [];
    const option = new Option(`${m.name}${m.default ? " (default)" : ""} — ${m.tasks.length} tasks`, m.name);
    option.selected = m.default;
    select.add(option);
  }
  showEndpoints();
}

// What the chosen model's scores mean (units, direction, assay), from /v1/models.
function showEndpoints() {
  const rows = endpointsOf[$("model").value] || [];
  $("endpoints").hidden = rows.length === 0;
  $("endpoint-rows").replaceChildren(...rows.map((e) => {
    const tr = document.createElement("tr");
    for (const text of [e.task, e.meaning, e.units, e.direction, e.assay]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

// One record per non-empty line: "SMILES [name]" (SMI), or a CSV/TSV row whose header names a SMILES column. A CSV
// is read as the CLI and REST read it: separated by semicolons or tabs when its header has more of them than commas,
// quoted cells kept whole (commas, separators and doubled quotes inside), a byte-order mark dropped.
function parseLines(text, delimiter) {
  text = text.replace(/^\ufeff/, "");
  if (!delimiter) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.startsWith("#"));
    return lines.map((l, i) => {
      const [smiles, ...rest] = l.trim().split(/\s+/);
      return { smiles, id: rest.join(" ") || String(i + 1) };
    });
  }
  if (delimiter === ",") delimiter = headerDelimiter(text.split(/\r?\n/, 1)[0]);
  const rows = parseCsv(text, delimiter).filter((r) => r.some((c) => c.trim()));
  const header = (rows.shift() ?? []).map((h) => h.trim());
  const col = header.findIndex((h) => /^(smiles|canonical_smiles|isomeric_smiles|smi|mol|structure)$/i.test(h));
  if (col < 0) throw new Error(`no SMILES column in the file header: ${header.join(", ")}`);
  const idCol = header.findIndex((h, i) => i !== col && /^(id|name|title|compound)/i.test(h));
  return rows.map((cells, i) => ({ smiles: (cells[col] ?? "").trim(), id: idCol >= 0 ? cells[idCol] : String(i + 1) }));
}

// "," unless the header holds more semicolons or tabs than commas (spreadsheets with decimal commas export ";").
function headerDelimiter(header) {
  const count = (sep) => header.split(sep).length - 1;
  return [";", "\t"].reduce((best, sep) => (count(sep) > count(best) ? sep : best), ",");
}

async function readRecords() {
  const file = $("file").files[0];
  if (file) {
    const name = file.name.toLowerCase();
    const delimiter = name.endsWith(".csv") ? "," : name.endsWith(".tsv") ? "\t" : null;
    return parseLines(await file.text(), delimiter);
  }
  return parseLines($("smiles").value, null);
}

function colour(value, lo, hi) {
  if (value === null) return "";
  const t = hi > lo ? (value - lo) / (hi - lo) : value;
  return `hsl(${Math.round(140 * (1 - Math.min(Math.max(t, 0), 1)))}, 65%, 82%)`;
}

// RFC 4180 rows: quoted cells may hold the delimiter, newlines and doubled quotes.
function parseCsv(text, delimiter = ",") {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') cell += text[++i];
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) { row.push(cell); cell = ""; }
    else if (c === "\n") { row.push(cell); rows.push(row); row = []; cell = ""; }
    else if (c !== "\r") cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

// The server's scored CSV (/predict/csv) as the JSON endpoint's response, without depictions.
function fromCsv(text, model) {
  const [header, ...rows] = parseCsv(text);
  const tasks = tasksOf[model];
  const number = (s) => (s === "" ? null : Number(s));
  return { model, tasks, results: rows.map((row, index) => {
    const get = (name) => row[header.indexOf(name)] ?? "";
    return {
      index, id: get("title") || String(index + 1), smiles: get("smiles"), canonical_smiles: get("canonical_smiles") || null,
      scores: Object.fromEntries(tasks.map((t) => [t, number(get(t))])), max_similarity: number(get("max_similarity")),
      in_domain: get("in_domain") === "" ? null : get("in_domain") === "True", error: get("error") || null,
      conformal: conformalOf(header, get, number),
    };
  }) };
}

// A calibrated model's conformal columns (<task>_set, or <task>_lo / <task>_hi) of one CSV row; null without any.
function conformalOf(header, get, number) {
  const names = header.filter((h) => /_(set|lo|hi)$/.test(h));
  if (!names.length) return null;
  return Object.fromEntries(names.map((h) => [h, h.endsWith("_set") ? get(h) || null : number(get(h))]));
}

// What the model is sure of at its confidence: the prediction set, or the interval.
function confidenceNote(r, t) {
  const c = r.conformal;
  if (!c) return "";
  if (c[`${t}_set`]) return ` · ${c[`${t}_set`]}`;
  if (!(`${t}_lo` in c)) return "";
  const end = (v, inf) => (v === null ? inf : v.toFixed(2));
  return ` [${end(c[`${t}_lo`], "−∞")}, ${end(c[`${t}_hi`], "∞")}]`;
}

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function render(data) {
  const classification = data.results.every((r) => Object.values(r.scores).every((v) => v === null || (v >= 0 && v <= 1)));
  const range = {};
  for (const t of data.tasks) {
    const values = data.results.map((r) => r.scores[t]).filter((v) => v !== null);
    range[t] = classification ? [0, 1] : [Math.min(...values), Math.max(...values)];
  }
  const table = $("results");
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const h of ["#", "id", "structure", "SMILES", "max similarity", "domain", "error", ...data.tasks]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const r of data.results) {
    const row = body.insertRow();
    row.className = r.error ? "invalid" : r.in_domain === false ? "ood" : "ok";
    const cell = (text, cls) => {
      const td = row.insertCell();
      td.textContent = text;
      if (cls) td.className = cls;
      return td;
    };
    cell(String(r.index + 1));
    cell(r.id ?? "");
    const mol = cell("", "mol");
    if (r.depiction_svg) mol.innerHTML = r.depiction_svg;  // SVG drawn by RDKit on the server
    cell(r.canonical_smiles ?? r.smiles, "smiles");
    cell(r.max_similarity === null ? "—" : r.max_similarity.toFixed(2));
    cell(r.error ? "—" : r.in_domain ? "in" : "out", "domain");
    cell(r.error ?? "", "error");
    for (const t of data.tasks) {
      const v = r.scores[t];
      const td = cell(v === null ? "—" : v.toFixed(3) + confidenceNote(r, t), "score");
      td.style.background = colour(v, ...range[t]);
    }
  }
}

function toCsv(data) {
  const conformal = Object.keys(data.results.find((r) => r.conformal)?.conformal ?? {});
  const columns = ["id", "smiles", "canonical_smiles", ...data.tasks, ...conformal, "max_similarity", "in_domain", "error"];
  return [columns.join(","), ...data.results.map((r) => [r.id, r.smiles, r.canonical_smiles, ...data.tasks.map((t) => r.scores[t]),
    ...conformal.map((c) => r.conformal?.[c]), r.max_similarity, r.in_domain, r.error].map(csvCell).join(","))].join("\n") + "\n";
}

// The legend and the download link of the scores, shown only once there are results.
function offer(csv) {
  const link = $("download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  $("legend").hidden = false;
}

// An SDF file goes to the server as it is (/predict/csv reads it); pasted SMILES and text files are read here.
function send(model, file, records) {
  const url = `/v1/models/${encodeURIComponent(model)}/predict`;
  if (!records) {
    const form = new FormData();
    form.append("file", file);
    return fetch(`${url}/csv`, { method: "POST", headers: headers(false), body: form });
  }
  return fetch(url, {
    method: "POST", headers: headers(true),
    body: JSON.stringify({ smiles: records.map((r) => r.smiles), ids: records.map((r) => r.id), depict: records.length <= 500 }),
  });
}

async function score(event) {
  event.preventDefault();
  const file = $("file").files[0];
  let records = null;
  if (!file || !SERVER_READ.test(file.name)) {
    try {
      records = await readRecords();
    } catch (err) {
      setStatus(err.message, true);
      return;
    }
    if (!records.length) {
      setStatus("Paste at least one SMILES or choose a file.", true);
      return;
    }
  }
  const model = $("model").value;
  $("score").disabled = true;
  setStatus(`Scoring ${records ? `${records.length} molecule(s)` : file.name} with ${model}…`);
  const started = performance.now();
  try {
    const response = await send(model, file, records);
    if (!response.ok) {
      setStatus(`The service refused the request (${response.status}): ${await detail(response)}`, true);
      return;
    }
    const csv = records ? null : await response.text();
    const data = csv === null ? await response.json() : fromCsv(csv, model);
    render(data);
    offer(csv ?? toCsv(data));
    const invalid = data.results.filter((r) => r.error).length;
    const ood = data.results.filter((r) => r.in_domain === false).length;
    setStatus(`${data.results.length} scored by ${data.model} in ${Math.round(performance.now() - started)} ms — ` +
      `${invalid} invalid, ${ood} out of domain.`);
  } catch (err) {
    setStatus(`Could not reach the service: ${err.message}`, true);
  } finally {
    $("score").disabled = false;
  }
}

$("query").addEventListener("submit", score);
$("apikey").addEventListener("change", loadModels);
$("model").addEventListener("change", showEndpoints);
loadModels();
