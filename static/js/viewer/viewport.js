// One viewport: a stack of frames, loaded and prefetched, windowed locally from the
// lossless 16-bit form (or drawn from server JPEGs on weak devices), with zoom, pan,
// measurements and overlays. Coordinates of measurements are image pixels.

import { gettext as _, interpolate } from "../shared/helpers.js";

const fmt = (s, o) => interpolate(s, o, true);

export const CT_PRESETS = {
  soft_tissue: [40, 400],
  lung: [-600, 1500],
  bone: [400, 1800],
  brain: [40, 80],
};
// Server JPEGs come in batches (see loadBatch); so do 16-bit frames (below). The first
// frame, and every frame where DecompressionStream is missing, is one request, gzipped by
// the server and inflated by the browser's network stack.
const PREFETCH_CONCURRENCY = 3;
// More than the browser's six connections per host, so that the next request is already
// queued when one finishes (no JavaScript round trip between them).
const LOCAL_CONCURRENCY = 12;
const BATCH_SIZE = 16;
// 16-bit frames in batches (kind=u16): a few large responses instead of one request per
// slice (300 requests cost more than their pixels), each part a gzip member inflated here
// with the browser's DecompressionStream (one Content-Encoding: gzip response cannot carry
// several members: Chromium stops after the first). 32 × 4 measured best (bench/viewer.py).
const U16_BATCH_SIZE = 32; // the server's MAX_BATCH
const U16_CONCURRENCY = 4;
const CAN_INFLATE = typeof DecompressionStream === "function";

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

// A batch's parts inflated by inflate-worker.js: a few workers for the page (one per core, up
// to four, started on first use), batches dealt round the pool; on the page's own thread
// where workers are not available or one fails.
const INFLATE_WORKERS = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
let inflaters = null;
let inflateIds = 0;
function startInflaters() {
  const pool = [];
  for (let k = 0; k < INFLATE_WORKERS; k++) {
    let worker;
    try {
      worker = new Worker(new URL("./inflate-worker.js", import.meta.url));
    } catch {
      break;
    }
    const jobs = new Map();
    worker.onmessage = (event) => {
      jobs.get(event.data.id)?.(event.data.out);
      jobs.delete(event.data.id);
    };
    worker.onerror = () => {
      const at = pool.indexOf(entry);
      if (at >= 0) pool.splice(at, 1); // out of the pool once, however often it errs
      for (const resolve of jobs.values()) resolve(null);
      jobs.clear();
    };
    const entry = { worker, jobs };
    pool.push(entry);
  }
  return pool;
}
function inflateParts(buffer, parts) {
  if (inflaters === null) inflaters = startInflaters();
  const onThisThread = () => Promise.all(parts.map(([offset, length]) => inflate(new Uint8Array(buffer, offset, length)).catch((err) => String(err.message || err))));
  if (!inflaters.length) return onThisThread();
  const id = ++inflateIds;
  const { worker, jobs } = inflaters[id % inflaters.length];
  // The buffer is copied, not transferred: the page keeps it for the fallback.
  return new Promise((resolve) => {
    jobs.set(id, resolve);
    worker.postMessage({ id, buffer, parts });
  }).then((out) => out || onThisThread());
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// The raw little-endian uint16 form (viewer.study_views.frame_modality_u16) as pixels.
function u16Pixels(buffer) {
  const data = new Uint16Array(buffer);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(buffer);
    for (let k = 0; k < data.length; k++) data[k] = view.getUint16(2 * k, true);
  }
  return data;
}
const SERVER_MAX_SIDE = 1024;

// The first image as the page's head script read it (early-frames.js), once:
// a promise of a response-like object, or of null when there is none for this URL.
function earlyFrame(url) {
  const early = (window.__viewerEarlyFrames = window.__viewerEarlyFrames || {});
  const found = early[url];
  delete early[url];
  return found || Promise.resolve(null);
}

export const stats = (window.__viewerStats = window.__viewerStats || { wl: [], draws: 0 });

// Known server reasons, so that they are shown in the user's language.
const REASONS = {
  "The image data is damaged and cannot be decoded.": _("The image data is damaged and cannot be decoded."),
  "The stored file is missing.": _("The stored file is missing."),
  "The stored file cannot be read as DICOM.": _("The stored file cannot be read as DICOM."),
  "The file holds no image.": _("The file holds no image."),
  "This series has no images.": _("This series has no images."),
  "There is no such frame.": _("There is no such frame."),
};
export function reasonText(reason) {
  if (REASONS[reason]) return REASONS[reason];
  const m = /compression \((.*)\) cannot be decoded/.exec(reason || "");
  if (m) return fmt(_("This image's compression (%(ts)s) cannot be decoded on this server."), { ts: m[1] });
  return reason || _("This image cannot be shown.");
}

function orientationLabel(v) {
  if (!v) return "";
  const letters = [
    [v[0], "L", "R"],
    [v[1], "P", "A"],
    [v[2], "H", "F"],
  ]
    .filter(([c]) => Math.abs(c) > 0.25)
    .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
    .map(([c, pos, neg]) => (c > 0 ? pos : neg));
  return letters.join("");
}

export function measurementText(kind, points, info) {
  if (kind === "angle") {
    const [a, v, b] = points;
    const [sx, sy] = spacingOf(info).spacing ? [spacingOf(info).spacing[1], spacingOf(info).spacing[0]] : [1, 1];
    const ux = (a[0] - v[0]) * sx, uy = (a[1] - v[1]) * sy, wx = (b[0] - v[0]) * sx, wy = (b[1] - v[1]) * sy;
    const cos = (ux * wx + uy * wy) / (Math.hypot(ux, uy) * Math.hypot(wx, wy) || 1);
    return `${((Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI).toFixed(1)}°`;
  }
  if (kind === "length") {
    const { spacing, unit } = spacingOf(info);
    let dx = points[1][0] - points[0][0], dy = points[1][1] - points[0][1];
    if (spacing) { dx *= spacing[1]; dy *= spacing[0]; }
    const value = Math.hypot(dx, dy).toFixed(spacing ? 1 : 0);
    if (unit === "mm") return fmt(_("%(v)s mm"), { v: value });
    if (unit === "mm_approx") return fmt(_("≈%(v)s mm (approximate)"), { v: value });
    return fmt(_("%(v)s px"), { v: value });
  }
  return "";
}

function spacingOf(info) {
  const ok = (s) => s && s.length === 2 && s[0] > 0 && s[1] > 0;
  if (info && ok(info.pixel_spacing)) return { spacing: info.pixel_spacing, unit: "mm" };
  if (info && ok(info.imager_pixel_spacing)) return { spacing: info.imager_pixel_spacing, unit: "mm_approx" };
  return { spacing: null, unit: "px" };
}

export class Viewport {
  constructor(element, options) {
    this.el = element;
    this.canvas = element.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.ov = {};
    for (const node of element.querySelectorAll("[data-ov]")) this.ov[node.dataset.ov] = node;
    this.mode = options.mode; // "local" (16-bit, windowed here) or "server" (JPEG)
    this.onChange = options.onChange || (() => {});
    this.onMeasure = options.onMeasure || (() => {});
    this.tool = options.tool || "wl";
    this.frames = [];
    this.cache = new Map();
    this.index = 0;
    this.generation = 0;
    this.measurements = [];
    this.pointers = new Map();
    this.resetView();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    this.bindInput();
  }

  resetView() {
    this.window = null;
    this.invert = false;
    this.zoom = 1;
    this.pan = [0, 0];
    this.draft = null;
  }

  // ---- the stack ----
  setSeries(study, series) {
    this.study = study;
    this.series = series;
    this.frames = [];
    for (const inst of series.instances) {
      for (let f = 0; f < (inst.frames || 1); f++) this.frames.push({ inst, frame: f });
    }
    this.cache.clear();
    this.generation += 1;
    this.index = 0;
    this.resetView();
    this.loadedCount = 0;
    this.firstDrawn = false;
    this.drawn = null;
    delete this.el.dataset.loaded;
    delete this.el.dataset.drawn;
    performance.mark("viewer:series-start");
    if (!this.frames.length) {
      this.draw();
      this.onChange(this);
      return;
    }
    this.prefetch();
    this.draw();
    this.onChange(this);
  }

  current() {
    return this.frames[this.index];
  }

  useServer(inst) {
    return this.mode === "server" || !inst.info || !inst.info.local_window;
  }

  frameUrl(item) {
    const n = item.frame + 1;
    const inst = item.inst;
    // A cached instance has a key: its frames come by the page's signed grant for the study
    // (viewer/frame_links.py), answered without the Django request cycle.
    const signed = this.study.frames && inst.k ? `${this.study.frames}/${inst.k}` : "";
    if (!this.useServer(inst)) {
      if (signed) return `${signed}/${n}.u16`;
      return this.study.modality_u16
        .replace("{series}", this.series.uid)
        .replace("{instance}", inst.uid)
        .replace("{frame}", n);
    }
    const params = new URLSearchParams();
    if (this.window && !inst.info?.photometric?.startsWith("RGB")) params.set("window", `${this.window[0]},${this.window[1]}`);
    if (inst.rows * inst.columns > SERVER_MAX_SIDE * SERVER_MAX_SIDE) params.set("viewport", `${SERVER_MAX_SIDE},${SERVER_MAX_SIDE}`);
    const query = params.toString();
    if (signed && !query) return `${signed}/${n}.jpg`;
    const base = `/dicomweb/studies/${this.study.uid}/series/${this.series.uid}/instances/${inst.uid}`; // viewer.manifest.DICOMWEB
    return `${base}/frames/${n}/rendered${query ? "?" + query : ""}`;
  }

  async load(i, generation) {
    const item = this.frames[i];
    if (item.inst.problem) return { kind: "problem", reason: item.inst.problem };
    // No custom headers: the first frame then matches the page's <link rel=preload>.
    const url = this.frameUrl(item);
    const response = await earlyFrame(url).catch(() => null) || await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return { kind: "problem", reason: `HTTP ${response.status}` };
    const warning = response.headers.get("Warning");
    const problem = warning ? (/"(.*)"/.exec(warning) || [])[1] : "";
    if (problem) return { kind: "problem", reason: problem };
    if (!this.useServer(item.inst)) {
      const bytes = await response.arrayBuffer();
      if (!this.firstDrawn) performance.mark("viewer:first-received");
      const w = Number(response.headers.get("X-Columns"));
      const h = Number(response.headers.get("X-Rows"));
      if (!w || !h || bytes.byteLength !== w * h * 2) return { kind: "problem", reason: _("The image data is damaged and cannot be decoded.") };
      const data = u16Pixels(bytes);
      if (!this.firstDrawn) performance.mark("viewer:first-decoded");
      return {
        kind: "m16",
        w,
        h,
        data,
        offset: Number(response.headers.get("X-Pixel-Offset") || 0),
        slope: Number(response.headers.get("X-Rescale-Slope") || 1),
        intercept: Number(response.headers.get("X-Rescale-Intercept") || 0),
      };
    }
    const bitmap = await createImageBitmap(await response.blob());
    return { kind: "img", bitmap, w: item.inst.columns || bitmap.width, h: item.inst.rows || bitmap.height, reduced: bitmap.width < (item.inst.columns || 0) };
  }

  async ensure(i) {
    if (this.cache.has(i)) return this.cache.get(i);
    const generation = this.generation;
    const promise = this.load(i, generation).catch((err) => ({ kind: "problem", reason: String(err.message || err) }));
    this.cache.set(i, promise);
    return this.settle(i, generation, await promise);
  }

  settle(i, generation, entry) {
    if (generation !== this.generation) return entry;
    this.cache.set(i, entry);
    this.loadedCount += 1;
    if (i === this.index) this.draw();
    if (this.loadedCount === this.frames.length) {
      performance.mark("viewer:series-loaded");
      this.el.dataset.loaded = "all";
      this.onChange(this);
    }
    return entry;
  }

  // Which batch resource a frame can come from ("jpeg", "u16"), or "" for its own request.
  batchKind(item) {
    const inst = item.inst;
    if (inst.problem) return "";
    if (!this.useServer(inst)) return CAN_INFLATE ? "u16" : "";
    return inst.rows * inst.columns <= SERVER_MAX_SIDE * SERVER_MAX_SIDE ? "jpeg" : "";
  }

  // Many server JPEGs in one request (see viewer.study_views.series_frames_batch): a series
  // loads in a few round trips instead of one per slice.
  // `downloaded` is called once the batch's bytes are in (or it failed as a whole): the
  // caller may ask for the next batch while this one's frames are still being decoded.
  async loadBatch(indices, generation, kind, downloaded = () => {}) {
    const items = indices.map((i) => this.frames[i]);
    const windowed = this.window && kind === "jpeg";
    let url;
    if (this.study.frames && !windowed && items.every((it) => it.inst.k)) {
      // Cached frames by the page's signed grant (viewer/frame_links.py), in one request.
      const parts = items.map((it) => `${it.inst.k}_${it.frame + 1}`).join(",");
      url = `${this.study.frames}/batch/${parts}.${kind === "u16" ? "u16" : "jpg"}`;
    } else {
      const params = new URLSearchParams({ kind, frames: items.map((it) => `${it.inst.uid}:${it.frame + 1}`).join(",") });
      if (windowed) params.set("window", `${this.window[0]},${this.window[1]}`);
      url = `/viewer/studies/${this.study.uid}/series/${this.series.uid}/frames?${params}`;
    }
    let buffer;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      buffer = await response.arrayBuffer();
    } catch (err) {
      downloaded();
      // The batch failed as a whole (a proxy limit, a dropped connection): one request
      // per frame instead, each failing (or not) on its own.
      if (generation !== this.generation) return;
      for (const i of indices) this.cache.delete(i);
      await Promise.all(indices.map((i) => this.ensure(i)));
      return;
    }
    downloaded();
    const length = new DataView(buffer).getUint32(0);
    const index = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
    let pos = 4 + length;
    const parts = index.map((e) => {
      const bytes = new Uint8Array(buffer, pos, e.length); // a view: the parts are not copied
      pos += e.length;
      return [e, bytes];
    });
    const inflated = kind === "u16" ? await inflateParts(buffer, parts.map(([e, bytes]) => [bytes.byteOffset, e.problem ? 0 : bytes.byteLength])) : [];
    await Promise.all(
      parts.map(async ([e, bytes], k) => {
        const item = items[k];
        let entry;
        try {
          if (e.problem) entry = { kind: "problem", reason: e.problem };
          else if (kind === "u16") {
            const raw = inflated[k];
            if (!(raw instanceof ArrayBuffer)) throw new Error(raw || _("The image data is damaged and cannot be decoded."));
            if (!e.rows || !e.columns || raw.byteLength !== e.rows * e.columns * 2) throw new Error(_("The image data is damaged and cannot be decoded."));
            entry = { kind: "m16", w: e.columns, h: e.rows, data: u16Pixels(raw), offset: Number(e.offset || 0), slope: Number(e.slope ?? 1), intercept: Number(e.intercept || 0) };
          } else {
            const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
            entry = { kind: "img", bitmap, w: item.inst.columns || bitmap.width, h: item.inst.rows || bitmap.height };
          }
        } catch (err) {
          entry = { kind: "problem", reason: String(err.message || err) };
        }
        this.settle(indices[k], generation, entry);
      }),
    );
  }

  // Current frame first on its own (the first image must not wait for a batch), then
  // batches outwards from it, a few at a time.
  async prefetch() {
    const generation = this.generation;
    await this.ensure(this.index);
    if (generation !== this.generation) return;
    const order = [];
    for (let d = 1; d < this.frames.length; d++) {
      if (this.index + d < this.frames.length) order.push(this.index + d);
      if (this.index - d >= 0) order.push(this.index - d);
    }
    const batches = [];
    const open = { jpeg: [], u16: [] };
    const size = { jpeg: BATCH_SIZE, u16: U16_BATCH_SIZE };
    for (const i of order) {
      if (this.cache.has(i)) continue;
      const kind = this.batchKind(this.frames[i]);
      if (!kind) {
        batches.push([i]);
        continue;
      }
      open[kind].push(i);
      if (open[kind].length === size[kind]) {
        batches.push(Object.assign(open[kind], { kind }));
        open[kind] = [];
      }
    }
    for (const kind of ["jpeg", "u16"]) if (open[kind].length) batches.push(Object.assign(open[kind], { kind }));
    let next = 0;
    // Each lane asks for its next batch as soon as the previous one's bytes are in; their
    // frames are decoded (inflated, or JPEG-decoded) meanwhile.
    const decoding = [];
    const worker = async () => {
      while (next < batches.length && generation === this.generation) {
        const batch = batches[next++];
        const group = batch.filter((i) => !this.cache.has(i));
        if (!group.length) continue;
        if (group.length === 1) { await this.ensure(group[0]); continue; }
        const pending = new Promise((resolve) => (group.resolve = resolve));
        for (const i of group) this.cache.set(i, pending);
        let downloaded;
        const bytesIn = new Promise((resolve) => (downloaded = resolve));
        const done = this.loadBatch(group, generation, batch.kind, downloaded).finally(() => group.resolve());
        decoding.push(done);
        await Promise.race([bytesIn, done]);
      }
    };
    const jpeg = batches.some((b) => b.kind === "jpeg");
    const u16 = batches.some((b) => b.kind === "u16");
    const lanes = jpeg ? PREFETCH_CONCURRENCY : u16 ? U16_CONCURRENCY : LOCAL_CONCURRENCY;
    await Promise.all(Array.from({ length: lanes }, worker));
    await Promise.all(decoding);
  }

  setIndex(i, { wrap = false } = {}) {
    if (!this.frames.length) return;
    const n = this.frames.length;
    const next = wrap ? ((i % n) + n) % n : Math.max(0, Math.min(n - 1, i));
    if (next === this.index) return;
    this.index = next;
    this.draft = null;
    this.ensure(next);
    this.draw();
    this.onChange(this, { scrolled: true });
  }

  scrollBy(d, opts) {
    this.setIndex(this.index + d, opts);
  }

  // Position along the slice normal, for linked scrolling in one frame of reference.
  positionOf(i) {
    const info = this.frames[i]?.inst.info || {};
    const o = info.orientation, p = info.position;
    if (!o || !p || o.length !== 6) return null;
    const n = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
    return n[0] * p[0] + n[1] * p[1] + n[2] * p[2];
  }

  followPosition(position, fallbackIndex) {
    if (position == null || this.positionOf(0) == null) return this.setIndex(fallbackIndex);
    let best = 0, bestD = Infinity;
    this.frames.forEach((_f, i) => {
      const d = Math.abs(this.positionOf(i) - position);
      if (d < bestD) { best = i; bestD = d; }
    });
    this.setIndex(best);
  }

  frameOfReference() {
    return this.series?.frame_of_reference || this.current()?.inst.info?.frame_of_reference || "";
  }

  // ---- window / level ----
  defaultWindow(entry, info) {
    if (info && info.window) return info.window;
    if (!entry.auto) {
      let lo = Infinity, hi = -Infinity;
      const d = entry.data;
      for (let k = 0; k < d.length; k += 7) { if (d[k] < lo) lo = d[k]; if (d[k] > hi) hi = d[k]; }
      lo = (lo - entry.offset) * entry.slope + entry.intercept;
      hi = (hi - entry.offset) * entry.slope + entry.intercept;
      entry.auto = [(lo + hi) / 2, Math.max(1, hi - lo)];
    }
    return entry.auto;
  }

  effectiveWindow() {
    const item = this.current();
    const entry = item && this.cache.get(this.index);
    if (this.window) return this.window;
    if (entry && entry.kind === "m16") return this.defaultWindow(entry, item.inst.info);
    return item?.inst.info?.window || null;
  }

  setWindow(center, width, { final = true } = {}) {
    this.window = [Math.round(center), Math.max(1, Math.round(width))];
    const item = this.current();
    if (item && this.useServer(item.inst)) {
      // Server rendering: ask again (debounced), keep showing the old frames meanwhile.
      clearTimeout(this.serverTimer);
      this.serverTimer = setTimeout(() => this.reloadServerFrames(), final ? 0 : 250);
    }
    const t0 = performance.now();
    performance.mark("viewer:wl-start");
    this.draw();
    performance.mark("viewer:wl-end");
    performance.measure("viewer:wl-step", "viewer:wl-start", "viewer:wl-end");
    stats.wl.push(performance.now() - t0);
    this.onChange(this);
  }

  reloadServerFrames() {
    const old = this.cache;
    this.cache = new Map();
    this.generation += 1;
    this.loadedCount = 0;
    // Keep the old pictures until the new ones arrive.
    this.stale = old;
    this.ensure(this.index).then(() => { this.stale = null; this.draw(); });
    this.prefetch();
  }

  setPreset(name) {
    if (name === "auto") {
      this.window = null;
      if (this.current() && this.useServer(this.current().inst)) this.reloadServerFrames();
      this.draw();
      this.onChange(this);
      return;
    }
    const [c, w] = CT_PRESETS[name];
    this.setWindow(c, w);
  }

  lutFor(entry, info) {
    const [c, w] = this.window || this.defaultWindow(entry, info);
    const mono1 = info?.photometric === "MONOCHROME1";
    const key = `${c},${w},${this.invert !== mono1},${entry.offset},${entry.slope},${entry.intercept}`;
    if (this.lutKey === key) return this.lut;
    const lut = this.lut || new Uint32Array(65536);
    const inv = this.invert !== mono1;
    const lower = c - 0.5 - (w - 1) / 2, upper = c - 0.5 + (w - 1) / 2;
    const grey = (y) => 0xff000000 | (y << 16) | (y << 8) | y;
    // Stored values below the window are black and above it white (for a rising slope):
    // those runs are filled natively and only the ramp between is computed, a few hundred
    // values instead of 65 536 (this runs on the first image's path and on every W/L step).
    let from = 0, to = 65536;
    if (entry.slope > 0) {
      from = Math.min(65536, Math.max(0, Math.floor((lower - entry.intercept) / entry.slope + entry.offset) - 1));
      to = Math.min(65536, Math.max(from, Math.floor((upper - entry.intercept) / entry.slope + entry.offset) + 2));
      lut.fill(grey(inv ? 255 : 0), 0, from);
      lut.fill(grey(inv ? 0 : 255), to);
    }
    for (let s = from; s < to; s++) {
      const v = (s - entry.offset) * entry.slope + entry.intercept;
      let y = v <= lower ? 0 : v > upper ? 255 : Math.round(((v - (c - 0.5)) / (w - 1) + 0.5) * 255);
      if (inv) y = 255 - y;
      lut[s] = grey(y);
    }
    this.lut = lut;
    this.lutKey = key;
    return lut;
  }

  paint(entry, info) {
    const lut = this.lutFor(entry, info);
    if (entry.lutKey === this.lutKey && entry.canvas) return entry.canvas;
    if (!this.frameCanvas || this.frameCanvas.width !== entry.w || this.frameCanvas.height !== entry.h) {
      this.frameCanvas = new OffscreenCanvas(entry.w, entry.h);
      this.frameCtx = this.frameCanvas.getContext("2d");
      this.frameImage = this.frameCtx.createImageData(entry.w, entry.h);
    }
    const out = new Uint32Array(this.frameImage.data.buffer);
    const d = entry.data;
    for (let k = 0; k < d.length; k++) out[k] = lut[d[k]];
    this.frameCtx.putImageData(this.frameImage, 0, 0);
    return this.frameCanvas;
  }

  // ---- geometry ----
  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.draw();
    }
  }

  transform(entry) {
    const cw = this.canvas.width, ch = this.canvas.height;
    const fit = Math.min(cw / entry.w, ch / entry.h);
    const s = fit * this.zoom;
    const dpr = window.devicePixelRatio || 1;
    return { s, fit, tx: (cw - entry.w * s) / 2 + this.pan[0] * dpr, ty: (ch - entry.h * s) / 2 + this.pan[1] * dpr };
  }

  toImage(clientX, clientY) {
    const entry = this.drawn;
    if (!entry) return null;
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const { s, tx, ty } = this.transform(entry);
    return [((clientX - rect.left) * dpr - tx) / s, ((clientY - rect.top) * dpr - ty) / s];
  }

  setZoom(zoom) {
    this.zoom = Math.max(0.1, Math.min(40, zoom));
    this.draw();
    this.onChange(this);
  }

  fit() {
    this.zoom = 1;
    this.pan = [0, 0];
    this.draw();
    this.onChange(this);
  }

  actualSize() {
    if (!this.drawn) return;
    const { fit } = this.transform(this.drawn);
    this.setZoom(1 / fit / (window.devicePixelRatio || 1));
  }

  // ---- drawing ----
  draw() {
    stats.draws += 1;
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const item = this.current();
    let entry = this.cache.get(this.index);
    if (entry instanceof Promise || !entry) entry = this.stale?.get(this.index);
    if (!item) return this.message(this.series ? _("This series has no images.") : "");
    if (!entry || entry instanceof Promise) {
      this.drawn = null;
      this.updateOverlay(item);
      return this.message(_("Loading…"));
    }
    if (entry.kind === "problem") {
      this.drawn = null;
      this.updateOverlay(item);
      return this.message(fmt(_("This frame cannot be shown: %(reason)s"), { reason: reasonText(entry.reason) }));
    }
    this.message("");
    const { s, tx, ty } = this.transform(entry);
    ctx.setTransform(s, 0, 0, s, tx, ty);
    ctx.imageSmoothingEnabled = s < 4;
    if (entry.kind === "m16") {
      ctx.drawImage(this.paint(entry, item.inst.info), 0, 0, entry.w, entry.h);
    } else {
      ctx.filter = this.invert ? "invert(1)" : "none";
      ctx.drawImage(entry.bitmap, 0, 0, entry.w, entry.h);
      ctx.filter = "none";
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.drawn = entry;
    this.drawMeasurements(item, { s, tx, ty });
    this.updateOverlay(item, entry);
    if (!this.firstDrawn) {
      this.firstDrawn = true;
      performance.mark("viewer:first-image");
      this.el.dataset.drawn = "1";
    }
    this.el.dataset.index = String(this.index);
  }

  message(text) {
    if (this.ov.msg) {
      this.ov.msg.textContent = text;
      this.ov.msg.hidden = !text;
    }
  }

  drawMeasurements(item, t) {
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    const toScreen = (p) => [p[0] * t.s + t.tx, p[1] * t.s + t.ty];
    const all = this.measurements.filter((m) => m.instance === item.inst.uid && m.frame === item.frame + 1);
    if (this.draft) all.push({ ...this.draft, draft: true });
    ctx.lineWidth = 2 * dpr;
    ctx.font = `${13 * dpr}px sans-serif`;
    for (const m of all) {
      const pts = m.points.map(toScreen);
      ctx.strokeStyle = m.draft ? "#ffd54f" : m.saved === false ? "#ffb74d" : "#4fc3f7";
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      ctx.moveTo(...pts[0]);
      for (const p of pts.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
      if (m.kind === "arrow" && pts.length === 2) {
        const [a, b] = pts;
        const ang = Math.atan2(b[1] - a[1], b[0] - a[0]);
        const len = 12 * dpr;
        ctx.beginPath();
        ctx.moveTo(...b);
        ctx.lineTo(b[0] - len * Math.cos(ang - 0.4), b[1] - len * Math.sin(ang - 0.4));
        ctx.lineTo(b[0] - len * Math.cos(ang + 0.4), b[1] - len * Math.sin(ang + 0.4));
        ctx.closePath();
        ctx.fill();
      }
      const label = m.kind === "arrow" ? m.note || "" : m.points.length >= (m.kind === "angle" ? 3 : 2) ? measurementText(m.kind, m.points, item.inst.info) : "";
      if (label) {
        const at = pts[pts.length - 1];
        ctx.fillText(label, at[0] + 6 * dpr, at[1] - 6 * dpr);
      }
    }
  }

  updateOverlay(item, entry) {
    const info = item.inst.info || {};
    const s = this.series;
    if (this.ov.tl) {
      const lines = [
        fmt(_("Series %(n)s: %(d)s"), { n: s.number ?? "–", d: s.description || s.modality || "" }),
        fmt(_("Image %(i)s / %(n)s"), { i: this.index + 1, n: this.frames.length }),
      ];
      if (info.slice_location != null) lines.push(fmt(_("Slice %(loc)s mm"), { loc: info.slice_location.toFixed(1) }));
      if (item.inst.photo_of_film) lines.push(_("Photo of film, not of diagnostic quality"));
      if (entry && entry.reduced) lines.push(_("Large image: shown reduced"));
      this.ov.tl.textContent = lines.join("\n");
    }
    if (this.ov.tr) {
      const w = this.effectiveWindow();
      const lines = [];
      if (w && info.photometric?.startsWith("MONO")) lines.push(fmt(_("W %(w)s L %(c)s"), { w: Math.round(w[1]), c: Math.round(w[0]) }));
      if (entry) lines.push(fmt(_("Zoom %(z)s×"), { z: (this.transform(entry).s / (window.devicePixelRatio || 1)).toFixed(2) }));
      if (this.invert) lines.push(_("Inverted"));
      this.ov.tr.textContent = lines.join("\n");
    }
    const o = info.orientation;
    if (o && o.length === 6) {
      const row = o.slice(0, 3), col = o.slice(3, 6);
      const neg = (v) => v.map((x) => -x);
      this.ov.right && (this.ov.right.textContent = orientationLabel(row));
      this.ov.left && (this.ov.left.textContent = orientationLabel(neg(row)));
      this.ov.bottom && (this.ov.bottom.textContent = orientationLabel(col));
      this.ov.top && (this.ov.top.textContent = orientationLabel(neg(col)));
    } else {
      for (const k of ["left", "right", "top", "bottom"]) this.ov[k] && (this.ov[k].textContent = "");
    }
  }

  // ---- input: mouse, pen and touch through pointer events ----
  bindInput() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey) this.setZoom(this.zoom * Math.exp(-e.deltaY / 300));
      else this.scrollBy(e.deltaY > 0 ? 1 : -1);
    }, { passive: false });
    c.addEventListener("pointerdown", (e) => this.pointerDown(e));
    c.addEventListener("pointermove", (e) => this.pointerMove(e));
    c.addEventListener("pointerup", (e) => this.pointerUp(e));
    c.addEventListener("pointercancel", (e) => this.pointers.delete(e.pointerId));
    c.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  pointerDown(e) {
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      // synthetic pointers cannot be captured; dragging still works inside the canvas
    }
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY });
    this.el.dispatchEvent(new CustomEvent("viewport-focus", { bubbles: true }));
    if (this.pointers.size === 2) {
      this.gesture = this.pinchState();
      this.draft = this.tool === "angle" ? this.draft : null;
      return;
    }
    const tool = e.button === 1 ? "pan" : e.button === 2 ? "zoom" : this.tool;
    this.drag = { tool, x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY, startWindow: this.effectiveWindow(), acc: 0 };
    const p = this.toImage(e.clientX, e.clientY);
    if (!p) return;
    if (tool === "length" || tool === "arrow") this.draft = { kind: tool, points: [p, p] };
    if (tool === "angle") {
      // Three points: A, the vertex, B; by clicks or by dragging A→vertex then clicking B.
      if (!this.draft || this.draft.kind !== "angle") {
        this.draft = { kind: "angle", points: [p, p] };
      } else {
        const pts = this.draft.points;
        pts[pts.length - 1] = p;
        if (pts.length === 2) pts.push(p);
        else this.draft.finishing = true;
      }
    }
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { dist: Math.hypot(a.x - b.x, a.y - b.y), mid: [(a.x + b.x) / 2, (a.y + b.y) / 2], zoom: this.zoom, pan: [...this.pan] };
  }

  pointerMove(e) {
    const ptr = this.pointers.get(e.pointerId);
    if (!ptr) {
      if (this.draft && this.draft.kind === "angle" && this.tool === "angle") {
        const p = this.toImage(e.clientX, e.clientY);
        if (p) { this.draft.points[this.draft.points.length - 1] = p; this.draw(); }
      }
      return;
    }
    ptr.x = e.clientX;
    ptr.y = e.clientY;
    if (this.pointers.size === 2 && this.gesture) {
      const now = this.pinchState();
      this.zoom = Math.max(0.1, Math.min(40, this.gesture.zoom * (now.dist / (this.gesture.dist || 1))));
      this.pan = [this.gesture.pan[0] + now.mid[0] - this.gesture.mid[0], this.gesture.pan[1] + now.mid[1] - this.gesture.mid[1]];
      this.draw();
      this.onChange(this);
      return;
    }
    const d = this.drag;
    if (!d) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (d.tool === "wl") {
      const [c0, w0] = d.startWindow || [0, 1];
      const tx = e.clientX - ptr.x0, ty = e.clientY - ptr.y0;
      const k = Math.max(1, w0 / 256);
      this.setWindow(c0 + ty * k, Math.max(1, w0 + tx * k * 2), { final: false });
    } else if (d.tool === "pan") {
      this.pan = [this.pan[0] + dx, this.pan[1] + dy];
      this.draw();
    } else if (d.tool === "zoom") {
      this.setZoom(this.zoom * Math.exp(-dy / 200));
    } else if (d.tool === "scroll") {
      d.acc += dy;
      const step = e.pointerType === "touch" ? 20 : 8;
      while (Math.abs(d.acc) >= step) {
        this.scrollBy(d.acc > 0 ? -1 : 1);
        d.acc -= Math.sign(d.acc) * step;
      }
    } else if (this.draft) {
      const p = this.toImage(e.clientX, e.clientY);
      if (p) { this.draft.points[this.draft.points.length - 1] = p; this.draw(); }
    }
    d.x = e.clientX;
    d.y = e.clientY;
  }

  pointerUp(e) {
    this.pointers.delete(e.pointerId);
    if (this.pointers.size < 2) this.gesture = null;
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.tool === "wl" && this.current() && this.useServer(this.current().inst)) this.setWindow(...this.window);
    if (!this.draft) return;
    const item = this.current();
    const pts = this.draft.points;
    const clamp = (p) => [Math.max(0, Math.min(this.drawn?.w || 0, p[0])), Math.max(0, Math.min(this.drawn?.h || 0, p[1]))];
    if (this.draft.kind === "angle") {
      const p = this.toImage(e.clientX, e.clientY);
      const moved = Math.hypot(e.clientX - d.x0, e.clientY - d.y0) > 4;
      if (pts.length === 2 && moved) pts.push(p);
      if (!this.draft.finishing) return this.draw();
    }
    const [a, b] = [pts[0], pts[pts.length - 1]];
    if (this.draft.kind !== "angle" && Math.hypot(a[0] - b[0], a[1] - b[1]) * (this.drawn ? this.transform(this.drawn).s : 1) < 4) {
      this.draft = null;
      this.draw();
      return;
    }
    const done = { kind: this.draft.kind, points: pts.map(clamp), instance: item.inst.uid, frame: item.frame + 1, info: item.inst.info };
    this.draft = null;
    this.onMeasure(this, done);
    this.draw();
  }
}
