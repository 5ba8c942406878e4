// The viewer's first image, read the moment its bytes arrive: an async classic script in the
// page's head, ahead of the style sheets and the modules, which neither waits for them nor
// holds up the page (a module, or a plain script after the style sheets, would wait). It
// reads the preloads marked data-early-frame (same URLs and media, so this is the preloaded
// response, not a second request); viewport.js (earlyFrame) then finds the bytes in hand
// instead of queueing its own read behind the page's first layout.
(() => {
  // The viewer asked first (this file came late) and reads its frame itself: no second read.
  if (window.__viewerEarlyFrames) return;
  const early = (window.__viewerEarlyFrames = {});
  for (const link of document.querySelectorAll("link[data-early-frame]")) {
    const url = link.getAttribute("href");
    if (!url || !matchMedia(link.media).matches) continue;
    early[url] = fetch(url, { credentials: "same-origin" }).then((r) => r.arrayBuffer().then((b) => ({
      ok: r.ok, status: r.status, headers: r.headers, arrayBuffer: async () => b, blob: async () => new Blob([b], { type: r.headers.get("Content-Type") || "" }),
    })));
  }
})();
