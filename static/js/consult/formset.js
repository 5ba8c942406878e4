// "Add another guardian": clone the formset's empty form with the next index.
const rows = document.getElementById("guardian-rows");
const template = document.getElementById("guardian-template");
const total = document.querySelector("input[name$='-TOTAL_FORMS']");
const button = document.getElementById("add-guardian");

if (rows && template && total && button) {
  button.addEventListener("click", () => {
    const index = Number(total.value);
    const html = template.innerHTML.replaceAll("__prefix__", String(index));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    rows.lastElementChild.querySelector("input")?.focus();
  });
}
