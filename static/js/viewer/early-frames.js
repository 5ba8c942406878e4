// The viewer's first image, read the moment its bytes arrive: a classic script in the page's
// head, ahead of the style sheets (a script after them would wait for them) and of the
// modules. It reads the preloads marked data-early-frame (same URLs and media, so this is the
// preloaded response, not a second request); viewport.js (earlyFrame) then finds the bytes in
// hand instead of queueing its own read behind the page's first layout. Not a module: a
// module would wait for the document to be parsed.
(() => {
  const early = (window.__viewerEarlyFrames = {});
  for (const link of document.querySelectorAll("link[data-early-frame]")) {
    const url = link.getAttribute("href");
    if (!url || !matchMedia(link.media).matches) continue;
    early[url] = fetch(url, { credentials: "same-origin" }).then((r) => r.arrayBuffer().then((b) => ({
      ok: r.ok, status: r.status, headers: r.headers, arrayBuffer: async () => b, blob: async () => new Blob([b], { type: r.headers.get("Content-Type") || "" }),
    })));
  }
})();
