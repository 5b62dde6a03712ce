/* fashionlens web app: plain JavaScript over the HTTP API (no build step, no CDN). */
"use strict";

const PERSON_RGB = [255, 255, 0];
// one colour per ModaNet category, as in fashionlens.render.overlay.PALETTE
const CATEGORY_RGB = {
  bag: [31, 119, 180], belt: [255, 127, 14], boots: [44, 160, 44], footwear: [214, 39, 40],
  outer: [148, 103, 189], dress: [140, 86, 75], sunglasses: [227, 119, 194], pants: [127, 127, 127],
  top: [188, 189, 34], shorts: [23, 190, 207], skirt: [174, 199, 232], headwear: [255, 187, 120],
  "scarf/tie": [152, 223, 138],
};
const HEADS = { articleType: "article", baseColour: "colour", season: "season", gender: "gender", usage: "usage" };

const $ = (sel, root = document) => root.querySelector(sel);
const state = { models: null, browseOffset: 0, browseTotal: 0, facetsLoaded: false };

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

function params(values) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== "" && v !== null && v !== undefined) out.set(k, v);
  return out.toString();
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/* -- status and navigation ---------------------------------------------------------------- */

async function pollReady() {
  const status = $("#status");
  try {
    const response = await fetch("/ready");
    const body = await response.json();
    if (response.ok) {
      status.textContent = "models ready";
      status.className = "status ready";
      state.models = await api("/v1/models");
      $("#view-maskrcnn").hidden = !state.models.maskrcnn;
      return;
    }
    const waiting = (body.loading || []).join(", ");
    const failed = Object.keys(body.failed || {}).join(", ");
    status.textContent = waiting ? `loading: ${waiting}` : `failed: ${failed}`;
    status.className = "status loading";
  } catch (err) {
    status.textContent = "server unreachable";
  }
  setTimeout(pollReady, 2000);
}

function showPage() {
  const name = (location.hash || "#upload").slice(1);
  const known = ["upload", "search", "catalogue", "webcam", "wardrobe", "trends", "generate"];
  for (const page of document.querySelectorAll(".page")) page.hidden = true;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === name);
  const page = known.includes(name) ? name : "upload";
  $(`#page-${page}`).hidden = false;
  if (page === "catalogue") { loadFacets(); if (!$("#browse-grid").children.length) browse(0); }
  if (page === "search") loadFacets();
  if (page === "generate") loadGenerateOptions();
  if (page === "wardrobe") showWardrobe();  // wardrobe.js
  if (page === "trends") showTrends();  // trends.js
}

/* -- galleries ---------------------------------------------------------------------------- */

function renderHits(container, hits, onClick) {
  container.replaceChildren();
  for (const hit of hits) {
    const card = el("div", { class: "hit", "data-image-id": hit.image_id, title: hit.image_id });
    const img = el("img", { src: hit.thumbnail_url, alt: hit.article_type || hit.image_id, loading: "lazy" });
    const score = hit.score !== undefined ? `${hit.score.toFixed(3)} · ` : "";
    card.append(img, el("span", {}, `${score}${hit.article_type || hit.category || hit.source}`));
    card.addEventListener("click", () => onClick(hit.image_id));
    container.append(card);
  }
  if (!hits.length) container.append(el("p", { class: "muted" }, "nothing found"));
}

function searchFilters(prefix) {
  const out = {};
  for (const select of document.querySelectorAll(`[id^="${prefix}-"][data-filter]`)) out[select.dataset.filter] = select.value;
  return out;
}

async function showSimilar(imageId) {
  location.hash = "#search";
  const title = $("#search-title");
  title.replaceChildren(el("span", {}, "Similar to "), el("img", { src: `/v1/images/${imageId}/thumbnail?size=64`, class: "query-thumb", alt: imageId }));
  title.dataset.query = imageId;
  try {
    const k = $("#search-k").value || 12;
    const body = await api(`/v1/images/${imageId}/similar?${params({ k, ...searchFilters("search") })}`);
    renderHits($("#gallery"), body.hits, showSimilar);
    if (body.notes.length) title.append(el("span", { class: "muted" }, ` (${body.notes.join("; ")})`));
  } catch (err) {
    title.textContent = `search failed: ${err.message}`;
  }
}

async function searchText(event) {
  event.preventDefault();
  const text = $("#search-text").value.trim();
  if (!text) return;
  const title = $("#search-title");
  title.textContent = `“${text}”`;
  title.dataset.query = text;
  try {
    const k = $("#search-k").value || 12;
    const body = await api(`/v1/search?${params({ text, k, ...searchFilters("search") })}`);
    renderHits($("#gallery"), body.hits, showSimilar);
    title.textContent = `“${text}” — ${body.hits.length} results (${body.model_id})`;
  } catch (err) {
    title.textContent = `search failed: ${err.message}`;
  }
}

/* -- catalogue ---------------------------------------------------------------------------- */

function fillSelect(select, values) {
  const keep = select.value;
  const first = select.options[0];
  select.replaceChildren(first);
  for (const [value, count] of Object.entries(values || {})) {
    if (!value) continue;
    select.append(el("option", { value }, `${value} (${count})`));
  }
  select.value = keep;
}

async function loadFacets() {
  if (state.facetsLoaded) return;
  try {
    const body = await api("/v1/catalogue/images?limit=1");
    for (const select of document.querySelectorAll("select[data-filter]")) fillSelect(select, body.facets[select.dataset.filter]);
    state.facetsLoaded = true;
    const info = await api("/v1/catalogue");
    $("#catalogue-summary").textContent = `${info.images} images; sources: ${Object.entries(info.sources).map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`;
  } catch (err) {
    $("#catalogue-summary").textContent = `catalogue: ${err.message}`;
  }
}

async function browse(offset) {
  const limit = 48;
  try {
    const body = await api(`/v1/catalogue/images?${params({ limit, offset, ...searchFilters("browse") })}`);
    state.browseOffset = body.offset;
    state.browseTotal = body.total;
    renderHits($("#browse-grid"), body.items, showSimilar);
    const last = Math.min(body.offset + body.items.length, body.total);
    $("#browse-page").textContent = body.total ? `${body.offset + 1}–${last} of ${body.total}` : "no images";
    $("#browse-prev").disabled = body.offset === 0;
    $("#browse-next").disabled = last >= body.total;
  } catch (err) {
    $("#browse-page").textContent = err.message;
  }
}

/* -- upload ------------------------------------------------------------------------------- */

function renderPredictions(table, predictions, confidences) {
  table.replaceChildren();
  for (const [head, label] of Object.entries(predictions)) {
    const value = confidences[head] || 0;
    const row = el("tr", { class: "prediction-row", "data-head": head });
    const bar = el("div", { class: "bar" });
    const fill = el("span");
    fill.style.width = `${Math.round(value * 100)}%`;
    bar.append(fill);
    const barCell = el("td");
    barCell.append(bar);
    row.append(el("td", { class: "head" }, HEADS[head] || head), el("td", { class: "label" }, label), barCell,
      el("td", { class: "value" }, value.toFixed(2)));
    table.append(row);
  }
}

function renderSwatches(container, colours) {
  container.replaceChildren();
  for (const c of colours) {
    const swatch = el("span", { class: "swatch", title: c.hex });
    const chip = el("i");
    chip.style.background = c.hex;
    swatch.append(chip, el("span", {}, `${c.name} ${Math.round(c.share * 100)}%`));
    container.append(swatch);
  }
}

async function describeFile(file) {
  const card = $("#result-template").content.firstElementChild.cloneNode(true);
  $("#results").prepend(card);
  $(".name", card).textContent = file.name;
  $(".original", card).src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("image", file);
  try {
    const body = await api("/v1/describe", { method: "POST", body: form });
    renderPredictions($(".predictions", card), body.predictions, body.confidences);
    renderSwatches($(".swatches", card), body.colours);
    $(".category", card).textContent = `category: ${body.category} (from ${body.category_source}); ${body.people.length} people, ${body.garments.length} garments`;
    if (body.overlay_png) {
      const overlay = $(".overlay-img", card);
      overlay.src = `data:image/png;base64,${body.overlay_png}`;
      overlay.hidden = false;
    }
    const list = $(".garments", card);
    for (const g of body.garments) {
      const colour = g.colours.length ? `, ${g.colours[0].name}` : "";
      list.append(el("li", {}, `${g.category} ${g.score.toFixed(2)}${colour}`));
    }
    card.dataset.done = "1";
  } catch (err) {
    const box = $(".error", card);
    box.textContent = err.message;
    box.hidden = false;
    card.dataset.done = "error";
  }
  try {
    const query = new FormData();
    query.append("image", file);
    query.append("k", "8");
    const hits = await api("/v1/search", { method: "POST", body: query });
    renderHits($(".similar", card), hits.hits, showSimilar);
  } catch (err) {
    $(".similar", card).replaceChildren(el("p", { class: "muted" }, `similar images: ${err.message}`));
  }
}

async function handleFiles(files) {
  for (const file of files) await describeFile(file);  // one at a time: the server batches anyway
}

/* -- webcam ------------------------------------------------------------------------------- */

function drawRle(data, width, height, rle, rgb, alpha) {
  const [h, w] = rle.size;
  if (h !== height || w !== width) return;
  let p = 0;
  for (let i = 0; i < rle.counts.length; i++) {
    const n = rle.counts[i];
    if (i % 2 === 1) {
      for (let q = p; q < p + n; q++) {
        const x = Math.floor(q / h);
        const y = q - x * h;
        const o = (y * w + x) * 4;
        data[o] = rgb[0]; data[o + 1] = rgb[1]; data[o + 2] = rgb[2]; data[o + 3] = alpha;
      }
    }
    p += n;
  }
}

function drawMasks(canvas, body, videoWidth, videoHeight) {
  const mask = document.createElement("canvas");
  mask.width = body.width;
  mask.height = body.height;
  const mctx = mask.getContext("2d");
  const image = mctx.createImageData(body.width, body.height);
  for (const person of body.people) if (person.mask_rle) drawRle(image.data, body.width, body.height, person.mask_rle, PERSON_RGB, 110);
  for (const g of body.garments) if (g.mask_rle) drawRle(image.data, body.width, body.height, g.mask_rle, CATEGORY_RGB[g.category] || [255, 0, 255], 160);
  mctx.putImageData(image, 0, 0);
  canvas.width = videoWidth;
  canvas.height = videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(mask, 0, 0, canvas.width, canvas.height);
  canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
  canvas.dataset.people = String(body.people.length);
  canvas.dataset.garments = String(body.garments.length);
}

const webcam = { stream: null, timer: null, busy: false, sent: 0 };

function frameBlob(video, width) {
  const scale = Math.min(1, width / video.videoWidth);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
}

async function segmentFrame(blob, model) {
  const form = new FormData();
  form.append("image", blob, "frame.jpg");
  form.append("model", model);
  return api("/v1/segment", { method: "POST", body: form });
}

async function webcamTick() {
  const video = $("#webcam-video");
  if (webcam.busy || !video.videoWidth) return;
  webcam.busy = true;
  try {
    const blob = await frameBlob(video, 384);
    const models = ["unet"];
    if (state.models && state.models.maskrcnn) models.push("maskrcnn");
    if (models.includes("maskrcnn")) {
      const mirror = $("#mirror-maskrcnn");
      mirror.width = video.videoWidth;
      mirror.height = video.videoHeight;
      mirror.getContext("2d").drawImage(video, 0, 0);
    }
    const results = await Promise.all(models.map((m) => segmentFrame(blob, m)));
    results.forEach((body, i) => {
      drawMasks($(`#overlay-${models[i]}`), body, video.videoWidth, video.videoHeight);
      $(`#caption-${models[i]}`).textContent = `${body.people.length} people, ${body.garments.length} garments, ${Math.round(body.seconds * 1000)} ms`;
    });
    webcam.sent += 1;
    $("#webcam-info").textContent = `${webcam.sent} frames segmented`;
  } catch (err) {
    $("#webcam-info").textContent = `segmentation failed: ${err.message}`;
  } finally {
    webcam.busy = false;
  }
}

async function startWebcam() {
  try {
    webcam.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    $("#webcam-info").textContent = `no camera: ${err.message}`;
    return;
  }
  const video = $("#webcam-video");
  video.srcObject = webcam.stream;
  await video.play().catch(() => {});
  const fps = Math.max(1, Math.min(10, Number($("#webcam-fps").value) || 3));
  webcam.timer = setInterval(webcamTick, 1000 / fps);
  $("#webcam-start").disabled = true;
  $("#webcam-stop").disabled = false;
}

function stopWebcam() {
  clearInterval(webcam.timer);
  webcam.timer = null;
  if (webcam.stream) for (const track of webcam.stream.getTracks()) track.stop();
  webcam.stream = null;
  $("#webcam-start").disabled = false;
  $("#webcam-stop").disabled = true;
}

/* -- generate ----------------------------------------------------------------------------- */

async function loadGenerateOptions() {
  const form = $("#generate-form");
  if (form.dataset.ready) return;
  try {
    const body = await api("/v1/generate/options");
    for (const [id, values] of [["#generate-label", body.labels], ["#generate-colour", body.colours]]) {
      const select = $(id);
      select.replaceChildren(select.options[0]);
      for (const value of values) select.append(el("option", { value }, value));
    }
    $("#generate-n").max = body.max_n;
    $("#generate-scale").max = body.max_scale;
    $("#generate-info").textContent = `model ${body.model_id}`;
    form.dataset.ready = "1";
  } catch (err) {
    $("#generate-info").textContent = `generator: ${err.message}`;
  }
}

function whole(id, fallback) {
  const value = Math.trunc(Number($(id).value));
  return Number.isFinite(value) && $(id).value !== "" ? value : fallback;
}

async function generateImages(event) {
  event.preventDefault();
  const info = $("#generate-info");
  const button = $("#generate-button");
  const request = {
    n: whole("#generate-n", 16), seed: whole("#generate-seed", 0), scale: whole("#generate-scale", 2),
    interpolate: $("#generate-interpolate").checked,
  };
  for (const key of ["label", "colour"]) if ($(`#generate-${key}`).value) request[key] = $(`#generate-${key}`).value;
  button.disabled = true;
  info.textContent = "generating…";
  try {
    const body = await api("/v1/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    const img = $("#generate-image");
    img.src = `data:image/png;base64,${body.png}`;
    img.dataset.seed = String(body.seed);
    img.hidden = false;
    const kinds = [...new Set(body.conditions.map((c) => Object.values(c).join(" / ")))];
    const what = kinds.length ? `: ${kinds.slice(0, 6).join(", ")}${kinds.length > 6 ? ", …" : ""}` : "";
    const unit = body.interpolate ? "frames" : "images";
    info.textContent = `${body.n} ${unit}, seed ${body.seed}${what} (${body.model_id}, ${Math.round(body.seconds * 1000)} ms)`;
  } catch (err) {
    info.textContent = `generation failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

/* -- wiring ------------------------------------------------------------------------------- */

function init() {
  window.addEventListener("hashchange", showPage);
  showPage();
  pollReady();
  const input = $("#upload-input");
  input.addEventListener("change", () => handleFiles(Array.from(input.files)));
  const zone = $("#dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    handleFiles(Array.from(e.dataTransfer.files).filter((f) => f.type.startsWith("image/") || !f.type));
  });
  $("#search-form").addEventListener("submit", searchText);
  $("#browse-form").addEventListener("submit", (e) => { e.preventDefault(); browse(0); });
  $("#browse-prev").addEventListener("click", () => browse(Math.max(0, state.browseOffset - 48)));
  $("#browse-next").addEventListener("click", () => browse(state.browseOffset + 48));
  $("#webcam-start").addEventListener("click", startWebcam);
  $("#webcam-stop").addEventListener("click", stopWebcam);
  $("#generate-form").addEventListener("submit", generateImages);
}

document.addEventListener("DOMContentLoaded", init);
