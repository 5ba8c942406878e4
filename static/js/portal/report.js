// Key image strip: native scroll-snap does the swiping; this only keeps the "2 / 5" counter.
const strip = document.getElementById("strip");
const count = document.getElementById("count");
if (strip && count) {
  const total = strip.children.length;
  strip.addEventListener("scroll", () => {
    const i = Math.round(strip.scrollLeft / Math.max(strip.clientWidth, 1));
    count.textContent = Math.min(i + 1, total) + " / " + total;
  }, { passive: true });
}
