// Inflates the gzip'd 16-bit frames of a batch (viewport.js, loadBatch) off the page's main
// thread, where inflating a 300-slice CT took most of the series' load time. Each part comes
// back as its pixels' ArrayBuffer (transferred, not copied) or as the error's text.
self.onmessage = async (event) => {
  const { id, buffer, parts } = event.data;
  const out = await Promise.all(
    parts.map(async ([offset, length]) => {
      try {
        const stream = new Blob([new Uint8Array(buffer, offset, length)]).stream().pipeThrough(new DecompressionStream("gzip"));
        return await new Response(stream).arrayBuffer();
      } catch (err) {
        return String(err.message || err);
      }
    }),
  );
  self.postMessage({ id, out }, out.filter((raw) => raw instanceof ArrayBuffer));
};
