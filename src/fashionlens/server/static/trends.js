/* fashionlens web app, Trends page: GET /v1/trends?by=&signal=&plots=true -> the test of
   independence, the report's plots (base64 PNGs), shares with 95% Wilson intervals, the pairwise
   tests and the adoption gap with their verdicts. Uses $, el and params from app.js. */
"use strict";

const SHARE_KEYS = ["group", "count", "n", "share", "ci_low", "ci_high", "small_group"];
const MAX_ROWS = 200;

function pct(v) {
  return v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`;
}

function num(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) < 0.001 && v !== 0 ? v.toExponential(1) : v.toFixed(digits);
}

function interval(value, low, high) {
  return `${pct(value)} [${pct(low)}, ${pct(high)}]`;
}

/** rows as a table: columns are [header, row => text, optional row => class]. */
function renderTable(table, rows, columns) {
  table.replaceChildren();
  const head = el("tr");
  for (const [title] of columns) head.append(el("th", {}, title));
  table.append(el("thead"));
  table.tHead.append(head);
  const body = el("tbody");
  for (const row of rows.slice(0, MAX_ROWS)) {
    const tr = el("tr");
    for (const [, cell, cls] of columns) {
      tr.append(el("td", cls ? { class: cls(row) } : {}, String(cell(row) ?? "")));
    }
    body.append(tr);
  }
  table.append(body);
  table.dataset.rows = String(rows.length);
  const extra = !rows.length ? "(empty)" : rows.length > MAX_ROWS ? `… ${rows.length - MAX_ROWS} more rows in the full report` : "";
  if (extra) {
    const tr = el("tr", { class: "more" });
    tr.append(el("td", { colspan: String(columns.length), class: "muted" }, extra));
    body.append(tr);
  }
}

function verdictClass(row) {
  return `verdict ${/^higher|^lower/.test(row.verdict || "") ? "significant" : "not-significant"}`;
}

function valueKey(rows, skip) {
  return rows.length ? Object.keys(rows[0]).find((k) => !skip.includes(k)) || "value" : "value";
}

function renderTrends(body) {
  const shares = body.shares || [];
  const valueCol = valueKey(shares, SHARE_KEYS);
  renderTable($("#trends-shares"), shares, [
    [body.by, (r) => r.group],
    [valueCol, (r) => r[valueCol]],
    ["count", (r) => r.count],
    ["n", (r) => r.n],
    ["share [95% CI]", (r) => interval(r.share, r.ci_low, r.ci_high)],
    ["", (r) => (r.small_group ? "small group" : ""), (r) => (r.small_group ? "flag" : "")],
  ]);
  const pairwise = body.pairwise || [];
  const pairCol = valueKey(pairwise, []);
  renderTable($("#trends-pairwise"), pairwise, [
    [pairCol, (r) => r[pairCol]],
    ["groups", (r) => `${r.group_1} vs ${r.group_2}`],
    ["shares", (r) => `${pct(r.share_1)} vs ${pct(r.share_2)}`],
    ["difference [95% CI]", (r) => interval(r.diff, r.diff_low, r.diff_high)],
    ["test", (r) => r.test],
    ["p", (r) => num(r.p_value, 4)],
    [`p (${pairwise.length ? pairwise[0].correction : "corrected"})`, (r) => num(r.p_adjusted, 4)],
    ["verdict", (r) => r.verdict, verdictClass],
  ]);
  const gaps = body.adoption_gap || [];
  const gapCol = valueKey(gaps, []);
  renderTable($("#trends-gap"), gaps, [
    [gapCol, (r) => r[gapCol]],
    ["proposed → adopted", (r) => `${r.proposed} → ${r.adopted}`],
    ["proposed share", (r) => interval(r.share_proposed, r.proposed_low, r.proposed_high)],
    ["adopted share", (r) => interval(r.share_adopted, r.adopted_low, r.adopted_high)],
    ["gap [95% CI]", (r) => interval(r.gap, r.gap_low, r.gap_high)],
    ["lift", (r) => num(r.lift, 2)],
    ["p (corrected)", (r) => num(r.p_adjusted, 4)],
    ["verdict", (r) => r.verdict, verdictClass],
  ]);
  const chi = body.chi_square;
  $("#trends-chi").textContent = chi
    ? `χ² = ${num(chi.statistic, 1)}, dof ${chi.dof}, p = ${num(chi.p_value, 4)}, Cramér's V = ${num(chi.cramers_v, 2)}: `
      + (chi.p_value < 0.05 ? `${body.signal} depends on ${body.by} (p < 0.05)` : `no evidence that ${body.signal} depends on ${body.by}`)
    : "no test of independence (see the notes)";
  const plots = $("#trends-plots");
  plots.replaceChildren();
  for (const [name, png] of Object.entries(body.plots || {})) {
    const figure = el("figure", { class: "plot", "data-plot": name });
    figure.append(el("img", { src: `data:image/png;base64,${png}`, alt: `${name} plot` }), el("figcaption", { class: "muted" }, name.replace("_", " ")));
    plots.append(figure);
  }
}

function tooLittle(body) {
  const groups = Object.keys(body.groups || {});
  if (!(body.shares || []).length) return `Too little data for trends: ${(body.notes || [])[0] || "nothing to compare"}.`;
  if (groups.length < 2) {
    return `Too little data to compare: the catalogue holds one ${body.by} group (${groups.join(", ")}); `
      + `ingest photos of another ${body.by} to compare shares. Its shares are below.`;
  }
  return "";
}

async function runTrends(event) {
  if (event) event.preventDefault();
  const message = $("#trends-message");
  const info = $("#trends-info");
  const output = $("#trends-output");
  const button = $("#trends-button");
  const query = { by: $("#trends-by").value, signal: $("#trends-signal").value, plots: "true" };
  button.disabled = true;
  message.hidden = true;
  info.textContent = "analysing the catalogue…";
  $("#trends-notes").replaceChildren();
  try {
    const response = await fetch(`/v1/trends?${params(query)}`);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const why = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      output.hidden = true;
      message.textContent = response.status === 409 ? `Too little data for trends: ${why}.` : `trends failed: ${why}`;
      message.dataset.kind = response.status === 409 ? "too-little" : "error";
      message.hidden = false;
      info.textContent = "";
      return;
    }
    const units = Object.values(body.groups).reduce((a, b) => a + b, 0);
    info.textContent = `${units} units in ${Object.keys(body.groups).length} ${body.by} groups: `
      + Object.entries(body.groups).map(([g, n]) => `${g} ${n}`).join(", ");
    for (const note of body.notes) $("#trends-notes").append(el("li", {}, note));
    const little = tooLittle(body);
    if (little) {
      message.textContent = little;
      message.dataset.kind = "too-little";
      message.hidden = false;
    }
    renderTrends(body);
    output.hidden = !(body.shares || []).length;
    const report = $("#trends-report");
    report.href = body.report_url;
    report.hidden = false;
    output.dataset.by = body.by;
    output.dataset.signal = body.signal;
  } catch (err) {
    message.textContent = `trends failed: ${err.message}`;
    message.dataset.kind = "error";
    message.hidden = false;
    info.textContent = "";
  } finally {
    button.disabled = false;
    const form = $("#trends-form");
    form.dataset.runs = String(Number(form.dataset.runs || 0) + 1);
  }
}

function showTrends() {
  if (!$("#trends-output").dataset.by && !$("#trends-info").textContent) {
    $("#trends-info").textContent = "Pick a grouping and a signal, then Run.";
  }
}

document.addEventListener("DOMContentLoaded", () => $("#trends-form").addEventListener("submit", runTrends));
