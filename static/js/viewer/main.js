// The study viewer page: series strip, toolbar, one or two viewports, measurements,
// cine, comparison with a prior, keyboard shortcuts. Data comes from the manifest that
// the page embeds; images come from the server's render cache.
import { csrfToken, gettext as _, interpolate } from "../shared/helpers.js";
import { Viewport, measurementText, stats } from "./viewport.js";

const fmt = (s, o) => interpolate(s, o, true);
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const root = $("#viewer");
// The manifest comes in its wire form (viewer.manifest.wire_form): what all instances of a
// series have in common is written once, under the series' "shared".
function expandManifest(m) {
  for (const s of m.series) {
    const { info: sharedInfo = {}, ...shared } = s.shared || {};
    s.instances = s.instances.map((i) => ({ ...shared, ...i, info: { ...sharedInfo, ...(i.info || {}) } }));
    delete s.shared;
  }
  return m;
}
const manifest = expandManifest(JSON.parse($("#viewer-manifest").textContent));
const studies = new Map([[manifest.uid, manifest]]);

const connection = navigator.connection || {};
const weakDevice =
  matchMedia("(max-width: 700px)").matches ||
  connection.saveData === true ||
  /(^|-)(2g|3g)$/.test(connection.effectiveType || "");
let mode = localStorage.getItem("pedslink.viewer.mode") || (weakDevice ? "server" : "local");
const coarse = matchMedia("(pointer: coarse)").matches;
let tool = coarse ? "scroll" : "wl";
let cineTimer = null;
let linked = false;

function makeViewport(el) {
  const vp = new Viewport(el, { mode, tool, onChange, onMeasure });
  const slider = $(".stack-slider", el);
  slider.addEventListener("input", () => vp.setIndex(Number(slider.value) - 1));
  el.addEventListener("viewport-focus", () => setActive(vp));
  el.addEventListener("dragover", (e) => e.preventDefault());
  el.addEventListener("drop", (e) => {
    e.preventDefault();
    const [studyUid, seriesUid] = (e.dataTransfer.getData("text/plain") || "").split("|");
    if (studies.has(studyUid)) showSeries(vp, studies.get(studyUid), seriesUid);
  });
  vp.slider = slider;
  return vp;
}

const main = makeViewport($("#vp-main"));
let compare = null;
let active = main;

function setActive(vp) {
  active = vp;
  for (const v of [main, compare]) v && v.el.classList.toggle("active", v === vp);
}

function showSeries(vp, study, seriesUid) {
  const series = study.series.find((s) => s.uid === seriesUid) || study.series[0];
  if (!series) return;
  stopCine();
  vp.measurements = study.measurements;
  vp.setSeries(study, series);
  if (study === manifest) {
    for (const b of $$(".series-thumb")) b.setAttribute("aria-current", String(b.dataset.series === series.uid));
  }
  updateLink();
  setActive(vp);
}

function onChange(vp, change = {}) {
  vp.slider.max = String(Math.max(1, vp.frames.length));
  vp.slider.value = String(vp.index + 1);
  vp.slider.disabled = vp.frames.length < 2;
  if (change.scrolled && linked && compare && !compare.el.hidden) {
    const other = vp === main ? compare : main;
    other.followPosition(vp.positionOf(vp.index), vp.index);
  }
  const item = vp.current();
  if (vp === active && item && !cineTimer) {
    const ft = item.inst.info?.frame_time;
    $("#cine-fps").placeholder = String(ft ? Math.round(1000 / ft) : 10);
  }
}

// ---- measurements ----
function measurementsFor(study) {
  return study.measurements;
}

async function onMeasure(vp, m) {
  let note = "";
  if (m.kind === "arrow") {
    note = await askNote();
    if (note === null) return vp.draw();
  }
  const study = vp.study;
  const entry = { ...m, note, saved: false, id: null };
  if (study.can_save_measurements) {
    const response = await fetch(`/viewer/api/studies/${study.uid}/measurements/`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ instance: m.instance, frame: m.frame, kind: m.kind, points: m.points, note }),
    });
    if (response.ok) {
      Object.assign(entry, await response.json(), { saved: true });
    } else {
      const body = await response.json().catch(() => ({}));
      flash(fmt(_("Not saved: %(reason)s"), { reason: body.detail || response.status }));
    }
  }
  measurementsFor(study).push(entry);
  vp.draw();
  renderMeasurements();
}

function askNote() {
  const dialog = $("#note-dialog");
  const input = $("input", dialog);
  input.value = "";
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value.trim() || _("Note") : null), { once: true });
  });
}

function infoOf(study, uid) {
  for (const s of study.series) for (const i of s.instances) if (i.uid === uid) return { series: s, inst: i };
  return null;
}

function renderMeasurements() {
  const list = $("#measurement-list");
  list.replaceChildren();
  for (const study of studies.values()) {
    for (const m of measurementsFor(study)) {
      const found = infoOf(study, m.instance);
      if (!found) continue;
      const li = document.createElement("li");
      li.className = "measurement";
      const kinds = { length: _("Length"), angle: _("Angle"), arrow: _("Arrow") };
      const value = m.kind === "arrow" ? m.note : measurementText(m.kind, m.points, found.inst.info);
      const where = fmt(_("series %(s)s, image %(i)s"), { s: found.series.number ?? "–", i: found.inst.number ?? "" });
      li.innerHTML = `<button type="button" class="linklike goto"></button> <span class="value"></span> <small></small>`;
      $(".goto", li).textContent = kinds[m.kind];
      $(".value", li).textContent = value;
      $("small", li).textContent = `${where}${study !== manifest ? " · " + _("prior") : ""}${m.saved === false ? " · " + _("not saved") : ""}`;
      $(".goto", li).addEventListener("click", () => gotoMeasurement(study, found, m));
      if (m.id && study.can_save_measurements) {
        const del = document.createElement("button");
        del.type = "button";
        del.className = "linklike delete";
        del.textContent = _("Delete");
        del.addEventListener("click", () => deleteMeasurement(study, m));
        li.append(" ", del);
      }
      list.append(li);
    }
  }
  $("#measurement-empty").hidden = list.children.length > 0;
  if (!manifest.can_save_measurements) $("#measurement-hint").hidden = false;
}

function gotoMeasurement(study, found, m) {
  const vp = compare && compare.study === study ? compare : main;
  if (vp.series !== found.series) showSeries(vp, study, found.series.uid);
  const i = vp.frames.findIndex((f) => f.inst.uid === m.instance && f.frame === m.frame - 1);
  if (i >= 0) vp.setIndex(i);
}

async function deleteMeasurement(study, m) {
  const response = await fetch(`/viewer/api/studies/${study.uid}/measurements/${m.id}/`, {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken() },
  });
  if (response.ok) {
    study.measurements.splice(study.measurements.indexOf(m), 1);
    renderMeasurements();
    main.draw();
    compare && compare.draw();
  } else {
    const body = await response.json().catch(() => ({}));
    flash(body.detail || String(response.status));
  }
}

function flash(text) {
  const el = $("#viewer-flash");
  el.textContent = text;
  el.hidden = !text;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => (el.hidden = true), 6000);
}

// ---- toolbar ----
function setTool(name) {
  tool = name;
  for (const v of [main, compare]) if (v) { v.tool = name; v.draft = null; v.draw(); }
  for (const b of $$("[data-tool]")) b.setAttribute("aria-pressed", String(b.dataset.tool === name));
}

function stopCine() {
  clearInterval(cineTimer);
  cineTimer = null;
  $("#cine").setAttribute("aria-pressed", "false");
  $("#cine").textContent = _("Play");
}

function toggleCine() {
  if (cineTimer) return stopCine();
  const item = active.current();
  const ft = item?.inst.info?.frame_time;
  const fps = Number($("#cine-fps").value) || (ft ? 1000 / ft : 10);
  const vp = active;
  cineTimer = setInterval(() => vp.scrollBy(1, { wrap: true }), 1000 / Math.max(1, Math.min(60, fps)));
  $("#cine").setAttribute("aria-pressed", "true");
  $("#cine").textContent = _("Pause");
}

function setMode(next) {
  mode = next;
  localStorage.setItem("pedslink.viewer.mode", next);
  root.dataset.mode = next;
  $("#mode").textContent = next === "local" ? _("Full quality (16-bit)") : _("Fast (server JPEG)");
  for (const v of [main, compare]) if (v && v.series) { v.mode = next; v.setSeries(v.study, v.series); }
}

async function openCompare(uid) {
  if (!uid) {
    if (compare) compare.el.hidden = true;
    root.classList.remove("comparing");
    linked = false;
    updateLink();
    return;
  }
  if (!studies.has(uid)) {
    const response = await fetch(`/viewer/studies/${uid}/manifest.json`, { credentials: "same-origin" });
    if (!response.ok) return flash(_("The prior study could not be opened."));
    studies.set(uid, expandManifest(await response.json()));
  }
  const prior = studies.get(uid);
  $("#vp-compare").hidden = false;
  root.classList.add("comparing");
  if (!compare) compare = makeViewport($("#vp-compare"));
  const current = main.series;
  const match =
    prior.series.find((s) => current && s.frame_of_reference && s.frame_of_reference === current.frame_of_reference) ||
    prior.series.find((s) => current && s.modality === current.modality && s.instances.length) ||
    prior.series[0];
  $("#compare-title").textContent = [prior.header.study_date, prior.header.modality, prior.header.description].filter(Boolean).join(" · ");
  renderPriorStrip(prior);
  showSeries(compare, prior, match?.uid);
  setActive(main);
  renderMeasurements();
}

function renderPriorStrip(prior) {
  const strip = $("#compare-series");
  strip.replaceChildren();
  for (const s of prior.series) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.textContent = `${s.number ?? "–"} ${s.description || s.modality}`;
    b.addEventListener("click", () => showSeries(compare, prior, s.uid));
    strip.append(b);
  }
}

function updateLink() {
  const box = $("#link-scroll");
  const possible = compare && !compare.el.hidden && main.frameOfReference() && main.frameOfReference() === compare.frameOfReference();
  box.disabled = !possible;
  linked = Boolean(possible && box.checked);
  $("#link-label").title = possible ? "" : _("Linked scrolling needs both series in one frame of reference.");
}

function bindToolbar() {
  for (const b of $$("[data-tool]")) b.addEventListener("click", () => setTool(b.dataset.tool));
  for (const b of $$("[data-preset]")) b.addEventListener("click", () => active.setPreset(b.dataset.preset));
  $("#invert").addEventListener("click", () => { active.invert = !active.invert; active.draw(); active.onChange(active); });
  $("#reset").addEventListener("click", () => { active.resetView(); active.setPreset("auto"); active.fit(); });
  $("#fit").addEventListener("click", () => active.fit());
  $("#actual").addEventListener("click", () => active.actualSize());
  $("#cine").addEventListener("click", toggleCine);
  $("#mode").addEventListener("click", () => setMode(mode === "local" ? "server" : "local"));
  $("#help-button").addEventListener("click", () => $("#help").showModal());
  $("#prior-select")?.addEventListener("change", (e) => openCompare(e.target.value));
  $("#link-scroll").addEventListener("change", updateLink);
  for (const b of $$(".series-thumb")) {
    b.addEventListener("click", () => showSeries(active.study === manifest ? active : main, manifest, b.dataset.series));
    b.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", `${manifest.uid}|${b.dataset.series}`));
  }
}

const KEYS = {
  ArrowDown: () => active.scrollBy(1),
  ArrowRight: () => active.scrollBy(1),
  ArrowUp: () => active.scrollBy(-1),
  ArrowLeft: () => active.scrollBy(-1),
  PageDown: () => active.scrollBy(10),
  PageUp: () => active.scrollBy(-10),
  Home: () => active.setIndex(0),
  End: () => active.setIndex(active.frames.length - 1),
  "+": () => active.setZoom(active.zoom * 1.25),
  "=": () => active.setZoom(active.zoom * 1.25),
  "-": () => active.setZoom(active.zoom / 1.25),
  f: () => active.fit(),
  o: () => active.actualSize(),
  i: () => $("#invert").click(),
  r: () => $("#reset").click(),
  w: () => setTool("wl"),
  p: () => setTool("pan"),
  z: () => setTool("zoom"),
  s: () => setTool("scroll"),
  l: () => setTool("length"),
  a: () => setTool("angle"),
  t: () => setTool("arrow"),
  c: () => toggleCine(),
  0: () => active.setPreset("auto"),
  1: () => active.setPreset("soft_tissue"),
  2: () => active.setPreset("lung"),
  3: () => active.setPreset("bone"),
  4: () => active.setPreset("brain"),
  "?": () => $("#help").showModal(),
  Escape: () => { for (const v of [main, compare]) if (v) { v.draft = null; v.draw(); } },
};

document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
  const action = KEYS[e.key] || KEYS[e.key.toLowerCase()];
  if (action) {
    e.preventDefault();
    action();
  }
});

bindToolbar();
root.dataset.mode = mode;
$("#mode").textContent = mode === "local" ? _("Full quality (16-bit)") : _("Fast (server JPEG)");
setTool(tool);
const first = manifest.series.find((s) => s.instances.length) || manifest.series[0];
if (first) showSeries(main, manifest, first.uid);
else main.message(_("This study has no images yet."));
renderMeasurements();
// Thumbnails wait for the first image: they must not queue ahead of it at the server.
const started = performance.now();
(function showThumbnails() {
  if (main.firstDrawn || !first || performance.now() - started > 2000) {
    for (const img of $$(".series-thumb img[data-src]")) img.src = img.dataset.src;
  } else {
    requestAnimationFrame(showThumbnails);
  }
})();
window.__viewer = { main, get compare() { return compare; }, stats, manifest };
