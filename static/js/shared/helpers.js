// What every page module shares: translation, the CSRF token, formatting. One module, so
// each rule is written once (README, "Front-end code").

// Django's JavaScript catalog (templates/base.html, {% js_catalog %}) defines the global
// gettext/interpolate on signed-in pages; elsewhere the English text is shown as written.
export function gettext(text) {
  return window.gettext ? window.gettext(text) : text;
}

// interpolate("%(h)sh", {h: 2}, true) or interpolate("%s of %s", [1, 3]), as Django's.
export function interpolate(format, values, named = false) {
  if (window.interpolate) return window.interpolate(format, values, named);
  if (named) return format.replace(/%\((\w+)\)s/g, (_, key) => values[key]);
  return values.reduce((text, value) => text.replace("%s", value), format);
}

// The token for X-CSRFToken: the csrftoken cookie (current even after a sign-in in another
// tab), else the page's {% csrf_token %} field.
export function csrfToken(root = document) {
  const cookie = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  if (cookie) return cookie[1];
  const field = root.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

// A deadline's time left (negative: overdue) as "3h 05m left" / "overdue 0h 12m".
export function timeLeft(seconds) {
  const overdue = seconds < 0;
  const minutes = Math.floor(Math.abs(seconds) / 60);
  const values = { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") };
  return overdue
    ? interpolate(gettext("overdue %(h)sh %(m)sm"), values, true)
    : interpolate(gettext("%(h)sh %(m)sm left"), values, true);
}
