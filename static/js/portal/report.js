// Key image strip: native scroll-snap does the swiping; this only keeps the "2 / 5" counter.
(function () {
  "use strict";
  var strip = document.getElementById("strip");
  var count = document.getElementById("count");
  if (!strip || !count) return;
  var total = strip.children.length;
  strip.addEventListener("scroll", function () {
    var i = Math.round(strip.scrollLeft / Math.max(strip.clientWidth, 1));
    count.textContent = Math.min(i + 1, total) + " / " + total;
  }, { passive: true });
})();
