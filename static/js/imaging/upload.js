// Browser upload for a child: DICOM files, folders and zips, one file per request,
// four at a time, each with its own progress bar; files the server already holds
// (by SHA-256 of the stored bytes) are skipped so an interrupted upload resumes.
import { csrfToken, gettext, interpolate } from "../shared/helpers.js";
import { PhotoEditor } from "./photo-editor.js";
import { Sha256 } from "./sha256.js";

const PARALLEL = 4;
const RETRIES = 3;
const root = document.getElementById("uploader");
const rows = document.getElementById("files");
const counts = { accepted: 0, already_stored: 0, rejected: 0 };
const queue = [];
let active = 0;

const HASH_CHUNK = 4 * 1024 * 1024;

function subtleAvailable() {
  return Boolean(window.crypto && window.crypto.subtle && window.isSecureContext);
}

// The stored copy has its 128-byte preamble zeroed: hash what the server will hold.
// Over https (or localhost) the browser's crypto.subtle does it; over plain http on a
// hospital intranet it does not exist, and sha256.js hashes the file chunk by chunk.
async function storedHash(file, { useSubtle = subtleAvailable() } = {}) {
  const head = new Uint8Array(await file.slice(0, 132).arrayBuffer());
  const dicm = head.length === 132 && String.fromCharCode(...head.slice(128, 132)) === "DICM";
  if (useSubtle) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (dicm) bytes.fill(0, 0, 128);
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  const hash = new Sha256();
  for (let at = 0; at < file.size; at += HASH_CHUNK) {
    const bytes = new Uint8Array(await file.slice(at, at + HASH_CHUNK).arrayBuffer());
    if (at === 0 && dicm) bytes.fill(0, 0, 128);
    hash.update(bytes);
  }
  return hash.hex();
}

function addRow(item) {
  const tr = document.createElement("tr");
  const name = document.createElement("td");
  name.textContent = item.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  const barCell = document.createElement("td");
  barCell.append(bar);
  const result = document.createElement("td");
  result.className = "result";
  result.textContent = gettext("waiting");
  tr.append(name, barCell, result);
  rows.append(tr);
  Object.assign(item, { tr, bar, result });
}

function overall() {
  const total = queue.reduce((n, i) => n + i.file.size, 0) || 1;
  const done = queue.reduce((n, i) => n + (i.done ? i.file.size : i.sent || 0), 0);
  const el = document.getElementById("overall");
  el.value = done / total;
  const finished = queue.filter((i) => i.done).length;
  document.getElementById("overall-text").textContent =
    interpolate(gettext("%s of %s files"), [finished, queue.length]);
  const failed = queue.filter((i) => i.failed).length;
  document.getElementById("retry").hidden = failed === 0;
  if (queue.length && queue.every((i) => i.done || i.failed) && active === 0) showSummary();
}

const LABELS = {
  accepted: () => gettext("accepted"),
  already_stored: () => gettext("already stored"),
  conflict: () => gettext("rejected"),
  rejected: () => gettext("rejected"),
};

function record(item, results) {
  const lines = [];
  for (const r of results) {
    const status = r.status === "conflict" ? "rejected" : r.status;
    counts[status] += 1;
    const text = LABELS[r.status]() + (r.reason ? ": " + r.reason : "");
    lines.push(results.length > 1 ? `${r.name} — ${text}` : text);
    if (status === "rejected") {
      const li = document.createElement("li");
      li.textContent = `${r.name}: ${r.reason}`;
      document.getElementById("rejections").append(li);
    }
  }
  item.result.textContent = lines.join("; ");
  item.result.dataset.status = results.every((r) => r.status === "accepted" || r.status === "already_stored") ? "ok" : "some-rejected";
}

// Small DICOM files travel a few per request (a CT slice is ~0.5 MB: per-request cost
// would dominate); zips, big files and photos go alone. Progress is shared out by bytes.
const BATCH_FILES = 8;
const BATCH_BYTES = 8 * 1024 * 1024;

function isSolo(item) {
  return item.kind || /\.zip$/i.test(item.name) || item.file.size > BATCH_BYTES / 2;
}

function nextBatch() {
  const ready = (i) => !i.done && !i.failed && !i.started && !i.checking;
  const first = queue.find(ready);
  if (!first) return [];
  const batch = [first];
  first.started = true;
  if (isSolo(first)) return batch;
  let bytes = first.file.size;
  for (const item of queue) {
    if (batch.length >= BATCH_FILES) break;
    if (!ready(item) || isSolo(item) || item.url !== first.url) continue;
    if (bytes + item.file.size > BATCH_BYTES) break;
    bytes += item.file.size;
    item.started = true;
    batch.push(item);
  }
  return batch;
}

function send(batch) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    for (const item of batch) {
      if (item.kind) {
        form.append("kind", item.kind);
        form.append("batch", item.batch);
      } else {
        form.append("path", item.name); // folder path, shown in the verdicts only
      }
      form.append("file", item.file, item.name);
    }
    xhr.open("POST", batch[0].url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken(root));
    const total = batch.reduce((n, i) => n + i.file.size, 0) || 1;
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      let left = (e.loaded / e.total) * total;
      for (const item of batch) {
        item.sent = Math.max(0, Math.min(item.file.size, left));
        item.bar.value = item.file.size ? item.sent / item.file.size : 1;
        left -= item.file.size;
      }
      overall();
    };
    xhr.onload = () => {
      if (xhr.status === 200) {
        resolve({ ok: true, body: JSON.parse(xhr.responseText) });
      } else if (xhr.status >= 500 || xhr.status === 0) {
        resolve({ ok: false, retry: true, message: `HTTP ${xhr.status}` });
      } else {
        let message = `HTTP ${xhr.status}`;
        try { message = JSON.stringify(JSON.parse(xhr.responseText).detail); } catch (_) { /* keep status */ }
        resolve({ ok: false, retry: false, message });
      }
    };
    xhr.onerror = () => resolve({ ok: false, retry: true, message: gettext("connection lost") });
    xhr.send(form);
  });
}

// Verdicts name the file (zip members as "archive.zip/member"); a batch is split by name.
function splitResults(batch, results) {
  if (batch.length === 1) return [results];
  return batch.map((item) => results.filter((r) => r.name === item.name || r.name.startsWith(item.name + "/")));
}

async function work(batch) {
  active += 1;
  for (const item of batch) {
    item.failed = false;
    item.result.textContent = gettext("sending");
  }
  for (let attempt = 1; attempt <= RETRIES; attempt += 1) {
    const answer = await send(batch);
    if (answer.ok) {
      const parts = splitResults(batch, answer.body.results);
      batch.forEach((item, index) => {
        item.done = true;
        item.bar.value = 1;
        record(item, parts[index]);
      });
      // Pages that embed the uploader (the consultation form) follow the verdicts.
      root.dispatchEvent(new CustomEvent("upload:results", { detail: answer.body.results }));
      break;
    }
    if (!answer.retry || attempt === RETRIES) {
      for (const item of batch) {
        item.failed = true;
        item.result.textContent = gettext("failed") + ": " + answer.message;
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
  }
  active -= 1;
  overall();
  pump();
}

function pump() {
  while (active < PARALLEL) {
    const batch = nextBatch();
    if (!batch.length) return;
    work(batch);
  }
}

async function enqueueDicom(files) {
  document.getElementById("progress").hidden = false;
  document.getElementById("summary").hidden = true;
  const items = files.map((file) => ({ file, name: file.webkitRelativePath || file.relPath || file.name, url: root.dataset.filesUrl }));
  items.forEach(addRow);
  queue.push(...items);
  // Refuse what the server would refuse anyway, before a slow link spends time on it.
  const maxBytes = Number(root.dataset.maxBytes);
  for (const item of items.filter((i) => maxBytes && i.file.size > maxBytes)) {
    item.done = true;
    record(item, [{ name: item.name, status: "rejected", reason: gettext("The file is larger than the size limit.") }]);
  }
  overall();
  const hashable = items.filter((i) => !i.done && !/\.zip$/i.test(i.name) && i.file.size < 256 * 1024 * 1024);
  hashable.forEach((i) => { i.checking = true; });
  try {
    await skipHeld(hashable);
  } catch (error) {
    // The pre-check only saves time: if it fails, the files are sent (duplicates are harmless).
    console.warn("pre-check failed", error);
  } finally {
    hashable.forEach((i) => { i.checking = false; });
  }
  pump();
}

async function skipHeld(items) {
  const hashes = new Map();
  for (const item of items) {
    item.result.textContent = gettext("checking");
    hashes.set(await storedHash(item.file), item);
  }
  if (!hashes.size) return;
  const response = await fetch(root.dataset.haveUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(root) },
    body: JSON.stringify({ sha256: [...hashes.keys()] }),
  });
  if (!response.ok) return;
  for (const sha of (await response.json()).have) {
    const item = hashes.get(sha);
    item.done = true;
    item.bar.value = 1;
    record(item, [{ name: item.name, status: "already_stored", reason: "" }]);
  }
  overall();
}

function showSummary() {
  const summary = document.getElementById("summary");
  for (const [key, n] of Object.entries(counts)) summary.querySelector(`[data-count=${key}]`).textContent = n;
  summary.hidden = false;
  root.dispatchEvent(new CustomEvent("upload:finished", { detail: { ...counts } }));
}

// Folders dropped onto the page arrive as directory entries: walk them.
async function filesFromDrop(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const out = [];
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      file.relPath = prefix + file.name;
      out.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      } while (batch.length);
    }
  }
  for (const entry of entries) await walk(entry, "");
  return out;
}

function setupDrop(zone, onFiles) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    onFiles(await filesFromDrop(e.dataTransfer));
  });
}

const batch = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
// The photo part is optional: the consultation form embeds the DICOM part only.
const editor = root.querySelector(".photo-editor") && new PhotoEditor(root.querySelector(".photo-editor"));
const photos = [];

function enqueuePhoto(file, blob) {
  const item = { file: blob || file, name: file.name, url: root.dataset.photoUrl, kind: document.getElementById("photo-kind").value, batch };
  document.getElementById("progress").hidden = false;
  addRow(item);
  queue.push(item);
  overall();
  pump();
}

async function nextPhoto() {
  const file = photos.shift();
  if (!file) { editor.hide(); return; }
  if (file.type === "application/pdf" || /\.pdf$/i.test(file.name)) {
    enqueuePhoto(file);
    nextPhoto();
    return;
  }
  await editor.open(file);
}

root.querySelector("[data-action=photo-send]")?.addEventListener("click", async () => {
  const blob = await editor.toBlob();
  enqueuePhoto(editor.file, blob);
  nextPhoto();
});
root.querySelector("[data-action=photo-skip]")?.addEventListener("click", () => nextPhoto());

function onPhotos(files) {
  const idle = photos.length === 0 && editor.hidden;
  photos.push(...files);
  if (idle) nextPhoto();
}

setupDrop(root.querySelector("[data-drop=dicom]"), enqueueDicom);
if (editor) setupDrop(root.querySelector("[data-drop=photo]"), onPhotos);
for (const name of ["dicom-files", "dicom-folder"]) {
  root.querySelector(`input[name=${name}]`).addEventListener("change", (e) => { enqueueDicom([...e.target.files]); e.target.value = ""; });
}
root.querySelector("input[name=photo-files]")?.addEventListener("change", (e) => { onPhotos([...e.target.files]); e.target.value = ""; });
document.getElementById("retry").addEventListener("click", () => {
  for (const item of queue.filter((i) => i.failed)) Object.assign(item, { failed: false, started: false, sent: 0 });
  pump();
});
root.dataset.ready = "1";
