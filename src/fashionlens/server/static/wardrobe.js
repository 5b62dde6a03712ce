/* fashionlens web app, Wardrobe page: digitise photos (POST /v1/wardrobe/items), item cards with
   filters, an edit form per item (PATCH with the version read: 409 when someone changed it since),
   delete with a confirm, undo, and outfit suggestions. Uses $, el, api, params, renderSwatches and
   state from app.js. */
"use strict";

const wardrobe = { options: null, all: [], byId: new Map(), busy: false };
const EDIT_FIELDS = ["name", "category", "colour", "status", "season", "formality", "brand", "size", "notes", "tags"];

function wardrobeKey() {
  return $("#wardrobe-key").value.trim();
}

/** fetch options for a route that writes: the X-API-Key header when the page has one. */
function writeOptions(options = {}) {
  const key = wardrobeKey();
  return key ? { ...options, headers: { ...(options.headers || {}), "X-API-Key": key } } : options;
}

async function wardrobeWrite(path, options) {
  try {
    return await api(path, writeOptions(options));
  } catch (err) {
    if (/X-API-Key/.test(err.message)) $("#wardrobe-key-row").hidden = false;
    throw err;
  }
}

function itemLabel(item) {
  return item.name || [item.colour, item.article_type || item.category].filter(Boolean).join(" ") || item.item_id;
}

function fillWardrobeSelect(select, values, counts = null) {
  const keep = select.value;
  select.replaceChildren(select.options[0]);
  for (const value of values) {
    const n = counts ? counts[value] || 0 : null;
    select.append(el("option", { value }, n === null ? value : `${value} (${n})`));
  }
  select.value = keep;
}

async function loadWardrobeOptions() {
  if (wardrobe.options) return;
  const o = await api("/v1/wardrobe/options");
  wardrobe.options = o;
  fillWardrobeSelect($("#wardrobe-add-category"), o.categories);
  fillWardrobeSelect($("#wardrobe-role"), o.roles);
  fillWardrobeSelect($("#wardrobe-season"), o.seasons);
  fillWardrobeSelect($("#wardrobe-status"), o.statuses);
  fillWardrobeSelect($("#outfit-season"), o.seasons);
}

function countBy(items, key) {
  const out = {};
  for (const item of items) for (const v of key(item)) out[v] = (out[v] || 0) + 1;
  return out;
}

function wardrobeFilters() {
  const out = {};
  for (const input of document.querySelectorAll("[data-wfilter]")) out[input.dataset.wfilter] = input.value.trim();
  return out;
}

async function showWardrobe() {
  try {
    const models = state.models || await api("/v1/models").catch(() => null);
    if (models && models.api_key_required) $("#wardrobe-key-row").hidden = false;
    await loadWardrobeOptions();
    await refreshWardrobe();
  } catch (err) {
    $("#wardrobe-count").textContent = `wardrobe: ${err.message}`;
  }
}

async function refreshWardrobe() {
  const all = (await api("/v1/wardrobe/items")).items;
  wardrobe.all = all;
  wardrobe.byId = new Map(all.map((i) => [i.item_id, i]));
  const o = wardrobe.options;
  fillWardrobeSelect($("#wardrobe-category"), o.categories, countBy(all, (i) => [i.category]));
  const colours = countBy(all, (i) => new Set((i.colours || []).map((c) => c.name)));
  fillWardrobeSelect($("#wardrobe-colour"), o.colours, colours);
  const filters = wardrobeFilters();
  const filtered = Object.values(filters).some(Boolean);
  const shown = filtered ? (await api(`/v1/wardrobe/items?${params(filters)}`)).items : all;
  const grid = $("#wardrobe-items");
  grid.replaceChildren(...shown.map(itemCard));
  grid.dataset.count = String(shown.length);
  $("#wardrobe-count").textContent = filtered
    ? `${shown.length} of ${all.length} items match`
    : `${all.length} item${all.length === 1 ? "" : "s"}`;
  if (!all.length) grid.append(el("p", { class: "muted" }, "The wardrobe is empty: add a photo above."));
}

/* -- an item card ------------------------------------------------------------------------- */

function attributeRows(item) {
  const rows = [
    ["role", item.role], ["season", item.season], ["formality", item.formality], ["status", item.status],
    ["pattern", item.pattern], ["material", item.material], ["brand", item.brand], ["size", item.size],
    ["price", item.price === null || item.price === undefined ? "" : `${item.price} ${item.currency || ""}`.trim()],
    ["usage", (item.attributes || {}).usage], ["tags", (item.tags || []).join(", ")], ["notes", item.notes],
  ];
  return rows.filter(([, v]) => v !== undefined && v !== null && String(v) !== "");
}

function itemCard(item) {
  const card = el("article", { class: "item-card", "data-item-id": item.item_id, "data-version": String(item.version) });
  const crop = el("img", { class: "crop", src: `${item.crop_url}?v=${item.version}`, alt: itemLabel(item), loading: "lazy" });
  const body = el("div", { class: "item-body" });
  body.append(el("h4", { class: "item-name" }, itemLabel(item)));
  const cls = [item.category, item.article_type].filter(Boolean).join(" · ");
  body.append(el("p", { class: "item-class" }, cls || "no class"));
  const swatches = el("div", { class: "swatches" });
  renderSwatches(swatches, (item.colours || []).map((c) => ({ hex: c.hex || "#ccc", name: c.name, share: c.share || 0 })));
  body.append(swatches);
  const attrs = el("dl", { class: "item-attrs" });
  for (const [k, v] of attributeRows(item)) attrs.append(el("dt", {}, k), el("dd", { "data-field": k }, String(v)));
  body.append(attrs);
  if (item.source_photo) {
    const link = el("a", { class: "source", href: item.photo_url, target: "_blank", rel: "noopener", title: "the photo it came from" });
    link.append(el("img", { src: item.photo_url, alt: "source photo", loading: "lazy" }), el("span", {}, "from this photo"));
    body.append(link);
  }
  const actions = el("div", { class: "item-actions" });
  const editButton = el("button", { type: "button", class: "edit" }, "Edit");
  const deleteButton = el("button", { type: "button", class: "delete" }, "Delete");
  actions.append(editButton, deleteButton);
  const error = el("p", { class: "error item-error" });
  error.hidden = true;
  const form = editForm(item, error);
  body.append(actions, error, form);
  editButton.addEventListener("click", () => { form.hidden = !form.hidden; });
  deleteButton.addEventListener("click", () => deleteItem(item, error));
  card.append(crop, body);
  return card;
}

function selectOf(name, values, current) {
  const select = el("select", { name });
  select.append(el("option", { value: "" }, "—"));
  const all = current && !values.includes(current) ? [current, ...values] : values;
  for (const v of all) select.append(el("option", { value: v }, v));
  select.value = current || "";
  return select;
}

function editForm(item, error) {
  const o = wardrobe.options;
  const form = el("form", { class: "edit-form" });
  form.hidden = true;
  const current = { ...item, tags: (item.tags || []).join(", ") };
  const inputs = {
    name: el("input", { name: "name", type: "text", value: item.name || "" }),
    category: selectOf("category", o.categories, item.category),
    colour: selectOf("colour", o.colours, item.colour),
    status: selectOf("status", o.statuses, item.status),
    season: selectOf("season", o.seasons, item.season),
    formality: selectOf("formality", o.formality, item.formality),
    brand: el("input", { name: "brand", type: "text", value: item.brand || "" }),
    size: el("input", { name: "size", type: "text", value: item.size || "" }),
    notes: el("textarea", { name: "notes", rows: "2" }),
    tags: el("input", { name: "tags", type: "text", value: current.tags, placeholder: "comma, separated" }),
  };
  inputs.notes.value = item.notes || "";
  for (const field of EDIT_FIELDS) {
    const label = el("label", {}, field);
    label.append(inputs[field]);
    form.append(label);
  }
  const save = el("button", { type: "submit", class: "save" }, "Save");
  const cancel = el("button", { type: "button" }, "Cancel");
  const buttons = el("div", { class: "form-buttons" });
  buttons.append(save, cancel);
  form.append(buttons);
  cancel.addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = {};
    for (const field of EDIT_FIELDS) {
      const value = inputs[field].value.trim();
      if (value !== String(current[field] ?? "")) changes[field] = value;
    }
    if (!Object.keys(changes).length) { form.hidden = true; return; }
    save.disabled = true;
    try {
      await wardrobeWrite(`/v1/wardrobe/items/${item.item_id}?${params({ version: item.version })}`, {
        method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(changes),
      });
      await refreshWardrobe();
    } catch (err) {
      error.textContent = `not saved: ${err.message}`;
      error.hidden = false;
      save.disabled = false;
    }
  });
  return form;
}

async function deleteItem(item, error) {
  if (!window.confirm(`Delete ${itemLabel(item)}? (Undo brings it back.)`)) return;
  try {
    await wardrobeWrite(`/v1/wardrobe/items/${item.item_id}?${params({ version: item.version })}`, { method: "DELETE" });
    await refreshWardrobe();
  } catch (err) {
    error.textContent = `not deleted: ${err.message}`;
    error.hidden = false;
  }
}

async function undoWardrobe() {
  try {
    const body = await wardrobeWrite("/v1/wardrobe/undo", { method: "POST" });
    $("#wardrobe-count").textContent = body.undone ? "undone" : "nothing to undo";
    await refreshWardrobe();
  } catch (err) {
    $("#wardrobe-count").textContent = `undo: ${err.message}`;
  }
}

/* -- digitise ----------------------------------------------------------------------------- */

async function digitise(files) {
  if (!files.length || wardrobe.busy) return;
  wardrobe.busy = true;
  const box = $("#wardrobe-progress");
  const bar = $("#wardrobe-progress-bar");
  const text = $("#wardrobe-progress-text");
  const list = $("#wardrobe-added");
  box.hidden = false;
  list.replaceChildren();
  bar.max = files.length;
  bar.value = 0;
  box.dataset.total = String(files.length);
  box.dataset.done = "0";
  let found = 0;
  for (const [i, file] of files.entries()) {
    text.textContent = `digitising ${i + 1} of ${files.length}: ${file.name}…`;
    const form = new FormData();
    form.append("image", file);
    form.append("single", $("#wardrobe-single").checked ? "true" : "false");
    form.append("category", $("#wardrobe-add-category").value);
    const line = el("li", {}, `${file.name}: `);
    try {
      const body = await wardrobeWrite("/v1/wardrobe/items", { method: "POST", body: form });
      found += body.items.length;
      const what = body.items.map((it) => `${it.category}${it.colour ? ` (${it.colour})` : ""}`).join(", ");
      line.append(body.items.length
        ? `${body.items.length} item${body.items.length === 1 ? "" : "s"}: ${what}`
        : "nothing new (this photo is already in the wardrobe, or no garment was found)");
      for (const d of body.duplicates) line.append(el("span", { class: "muted" }, ` · ${d.message}`));
      line.dataset.items = String(body.items.length);
    } catch (err) {
      line.append(el("span", { class: "error" }, err.message));
      line.dataset.items = "error";
    }
    list.append(line);
    bar.value = i + 1;
    box.dataset.done = String(i + 1);
    try { await refreshWardrobe(); } catch (_) { /* the next refresh says why */ }
  }
  text.textContent = `${files.length} photo${files.length === 1 ? "" : "s"} digitised: ${found} new item${found === 1 ? "" : "s"}`;
  wardrobe.busy = false;
}

/* -- outfits ------------------------------------------------------------------------------ */

async function wardrobeItem(id) {
  if (!wardrobe.byId.has(id)) wardrobe.byId.set(id, (await api(`/v1/wardrobe/items/${id}`)).item);
  return wardrobe.byId.get(id);
}

async function suggestOutfits(event) {
  event.preventDefault();
  const info = $("#outfit-info");
  const box = $("#outfits");
  const query = { season: $("#outfit-season").value, occasion: $("#outfit-occasion").value.trim(), n: $("#outfit-n").value || 3 };
  info.textContent = "building outfits…";
  try {
    const body = await api(`/v1/wardrobe/outfits?${params(query)}`);
    box.replaceChildren();
    for (const [i, outfit] of body.outfits.entries()) {
      const row = el("div", { class: "outfit", "data-score": String(outfit.score) });
      row.append(el("p", { class: "outfit-head" }, `#${i + 1} · score ${outfit.score.toFixed(2)} · ${outfit.reasons.join("; ")}`));
      const pieces = el("div", { class: "outfit-items" });
      for (const [role, id] of Object.entries(outfit.slots)) {
        const item = await wardrobeItem(id);
        const piece = el("div", { class: "outfit-item", "data-item-id": id, title: item.item_id });
        piece.append(el("img", { src: `${item.crop_url}?v=${item.version}`, alt: itemLabel(item) }),
          el("span", {}, `${role}: ${itemLabel(item)}`));
        pieces.append(piece);
      }
      row.append(pieces);
      box.append(row);
    }
    info.textContent = body.outfits.length
      ? `${body.outfits.length} outfit${body.outfits.length === 1 ? "" : "s"}`
      : "no complete outfit: the closet needs a top and a bottom (or a dress) and footwear";
  } catch (err) {
    info.textContent = `outfits: ${err.message}`;
  }
}

/* -- wiring ------------------------------------------------------------------------------- */

function initWardrobe() {
  const input = $("#wardrobe-input");
  input.addEventListener("change", () => { digitise(Array.from(input.files)); input.value = ""; });
  const zone = $("#wardrobe-dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    digitise(Array.from(e.dataTransfer.files).filter((f) => f.type.startsWith("image/") || !f.type));
  });
  const key = $("#wardrobe-key");
  key.value = sessionStorage.getItem("fashionlens-api-key") || "";
  key.addEventListener("input", () => sessionStorage.setItem("fashionlens-api-key", key.value.trim()));
  $("#wardrobe-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    refreshWardrobe().catch((err) => { $("#wardrobe-count").textContent = `wardrobe: ${err.message}`; });
  });
  for (const select of document.querySelectorAll("select[data-wfilter]")) {
    select.addEventListener("change", () => $("#wardrobe-filters").requestSubmit());
  }
  $("#wardrobe-undo").addEventListener("click", undoWardrobe);
  $("#outfit-form").addEventListener("submit", suggestOutfits);
}

document.addEventListener("DOMContentLoaded", initWardrobe);
