// Live pages over one websocket per page (Channels). The server pushes small events
// ({kind: "consultation" | "message" | "receipt" | "report" | "bell" | "referral", ...}) after commit;
// every element with data-live-url and a matching data-live-kinds refetches its HTML
// (or, with data-live-json, one JSON field). Time-left labels tick every second here.
// This small module is the project's one way of updating fragments (no htmx: README,
// "Front-end code").
import { timeLeft } from "./helpers.js";

const scheme = location.protocol === "https:" ? "wss://" : "ws://";

function refresh(kind) {
  document.querySelectorAll("[data-live-url]").forEach((el) => {
    const kinds = (el.getAttribute("data-live-kinds") || "").split(/\s+/);
    if (kinds.indexOf(kind) < 0) return;
    fetch(el.getAttribute("data-live-url"), { credentials: "same-origin", headers: { "X-Requested-With": "live" } })
      .then((r) => (r.ok ? (el.hasAttribute("data-live-json") ? r.json() : r.text()) : null))
      .then((body) => {
        if (body === null) return;
        if (el.hasAttribute("data-live-json")) el.textContent = body[el.getAttribute("data-live-json")];
        else el.innerHTML = body;
        tick();
        document.dispatchEvent(new CustomEvent("live:refreshed", { detail: { kind, id: el.id } }));
      });
  });
  document.querySelectorAll("[data-live-reload]").forEach((el) => {
    if (el.getAttribute("data-live-reload").split(/\s+/).indexOf(kind) >= 0) location.reload();
  });
}

// What a refreshed fragment says about signed reports (data-report-mark), as the page had it.
let reportMark = null;
function reportMarkNow() {
  const el = document.querySelector("[data-report-mark]");
  return el ? el.getAttribute("data-report-mark") : null;
}
// A page that reloads on "report" also reloads when a refetch shows a report it lacks: an
// event pushed before this page's socket was open (the page was still loading) is not lost.
document.addEventListener("live:refreshed", () => {
  const now = reportMarkNow();
  if (reportMark !== null && now !== null && now !== reportMark &&
      document.querySelector('[data-live-reload~="report"]')) location.reload();
});

function connect(path, delay, again) {
  const socket = new WebSocket(scheme + location.host + path);
  socket.onopen = () => {
    delay = 1000;
    document.documentElement.dataset.live = "on";
    // Events pushed while the socket was down are refetched once it is open again; on the
    // first open, a page that reloads on "report" checks the report it was rendered with.
    if (again) ["consultation", "message", "receipt", "bell", "referral"].forEach(refresh);
    else if (path !== "/ws/live/" && document.querySelector('[data-live-reload~="report"]')) refresh("consultation");
  };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    refresh(event.kind);
  };
  socket.onclose = (e) => {
    document.documentElement.dataset.live = "off";
    // Refused or signed out: do not hammer. 4403 is "your access changed": reconnecting
    // checks it again (and is refused with 4404 where the page is no longer theirs).
    if (e.code >= 4400 && e.code < 4500 && e.code !== 4403) return;
    setTimeout(() => {
      connect(path, Math.min(delay * 2, 30000), true); // its onopen catches up
    }, delay);
  };
}

function tick() {
  const now = Date.now();
  document.querySelectorAll("time.sla[data-due]").forEach((el) => {
    const left = Math.floor((Date.parse(el.getAttribute("data-due")) - now) / 1000);
    const text = timeLeft(left);
    if (el.textContent.indexOf(text) !== 0) el.textContent = text;
    el.classList.toggle("sla-risk", left < 0);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  reportMark = reportMarkNow();
  connect("/ws/live/", 1000);
  document.querySelectorAll("[data-ws-path]").forEach((el) => {
    connect(el.getAttribute("data-ws-path"), 1000);
  });
  refresh("bell");
  tick();
  setInterval(tick, 1000);
});
