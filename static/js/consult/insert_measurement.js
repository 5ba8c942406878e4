// Report editor: "Insert into findings" appends a saved viewer measurement as a line.
const findings = document.getElementById("id_findings");
for (const button of document.querySelectorAll(".insert-measurement")) {
  button.addEventListener("click", () => {
    const text = button.dataset.text;
    const current = findings.value.replace(/\s+$/, "");
    findings.value = current ? `${current}\n${text}` : text;
    findings.focus();
  });
}
