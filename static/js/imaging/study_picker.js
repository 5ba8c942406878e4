// The uploader embedded in a consultation page (the request form, the answer to an
// information request): upload.js sends the files exactly as on the child's upload page;
// this follows its verdicts and, when the upload is finished, puts the studies just
// uploaded among the page's study choices, ticked, without reloading the page (what the
// doctor typed stays). The list is read again from the server, so the labels and the
// study ids are the server's.
const uploader = document.getElementById("uploader");
const list = document.getElementById(uploader.dataset.studiesList);
const onlyUploaded = "onlyUploaded" in list.dataset;
const uploaded = new Set();

uploader.addEventListener("upload:results", (event) => {
  for (const r of event.detail) {
    if ((r.status === "accepted" || r.status === "already_stored") && r.study_instance_uid) {
      uploaded.add(r.study_instance_uid);
    }
  }
});
uploader.addEventListener("upload:finished", refresh);

async function refresh() {
  const response = await fetch(uploader.dataset.studiesUrl, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const { studies } = await response.json();
  for (const study of studies) {
    if (onlyUploaded && !uploaded.has(study.uid)) continue;
    let box = list.querySelector(`input[type=checkbox][value="${study.id}"]`);
    if (box) {
      const text = box.nextSibling;
      if (text && text.nodeType === Node.TEXT_NODE) text.textContent = ` ${study.label}`;
    } else {
      box = addChoice(study);
    }
    if (uploaded.has(study.uid)) box.checked = true;
  }
  for (const note of document.querySelectorAll("[data-no-studies]")) note.hidden = list.querySelector("input") !== null;
  list.dataset.refreshed = String(Number(list.dataset.refreshed || 0) + 1);
}

function addChoice(study) {
  const row = document.createElement("div");
  const label = document.createElement("label");
  const box = document.createElement("input");
  Object.assign(box, { type: "checkbox", name: "studies", value: String(study.id), id: `${list.id}_study_${study.id}` });
  if (list.dataset.form) box.setAttribute("form", list.dataset.form); // a list outside its form
  label.htmlFor = box.id;
  label.append(box, ` ${study.label}`);
  row.append(label);
  row.className = "uploaded-here";
  list.append(row);
  return box;
}

// Files dropped beside the drop zone must not make the browser open them (the form would be lost).
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault();
  });
}
