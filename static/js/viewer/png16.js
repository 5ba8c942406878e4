// Decode a 16-bit greyscale PNG into a Uint16Array without losing bits.
// Browsers reduce 16-bit PNGs to 8 bits when drawing them, so the viewer inflates the
// IDAT stream itself (DecompressionStream) and undoes the PNG row filters.

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Decoding runs in a few module workers when the browser has them, so that loading a
// series does not stall scrolling and uses more than one core.
const POOL_SIZE = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
let pool = null;
let nextJob = 0;
const jobs = new Map();

export function startDecoders() {
  if (typeof Worker !== "undefined") workers();
}

function workers() {
  if (pool !== null) return pool;
  pool = [];
  try {
    for (let k = 0; k < POOL_SIZE; k++) {
      const w = new Worker(new URL("./png16-worker.js", import.meta.url), { type: "module" });
      w.onmessage = (e) => {
        const job = jobs.get(e.data.id);
        jobs.delete(e.data.id);
        if (e.data.error) job.reject(new Error(e.data.error));
        else job.resolve(e.data.result);
      };
      pool.push(w);
    }
  } catch {
    pool = [];
  }
  return pool;
}

export function decodePng16Async(buffer) {
  const ws = typeof Worker === "undefined" ? [] : workers();
  if (!ws.length) return decodePng16(buffer);
  const id = nextJob++;
  return new Promise((resolve, reject) => {
    jobs.set(id, { resolve, reject });
    ws[id % ws.length].postMessage({ id, buffer }, [buffer]);
  });
}

export async function decodePng16(buffer) {
  const view = new DataView(buffer);
  if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG");
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colour = 0;
  let interlace = 0;
  const idat = [];
  while (pos + 8 <= buffer.byteLength) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...new Uint8Array(buffer, pos + 4, 4));
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = view.getUint8(pos + 16);
      colour = view.getUint8(pos + 17);
      interlace = view.getUint8(pos + 20);
    } else if (type === "IDAT") {
      idat.push(new Uint8Array(buffer, pos + 8, length));
    } else if (type === "IEND") {
      break;
    }
    pos += 12 + length;
  }
  if (depth !== 16 || colour !== 0 || interlace !== 0) throw new Error("not a 16-bit grey PNG");
  const stream = new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const stride = width * 2;
  const out = new Uint16Array(width * height);
  let prev = new Uint8Array(stride);
  let line = new Uint8Array(stride);
  let p = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[p++];
    const src = raw.subarray(p, p + stride);
    p += stride;
    // One loop per filter type: the per-byte switch was the decoder's hot spot.
    if (filter === 0) {
      line.set(src);
    } else if (filter === 1) {
      line[0] = src[0];
      line[1] = src[1];
      for (let x = 2; x < stride; x++) line[x] = (src[x] + line[x - 2]) & 0xff;
    } else if (filter === 2) {
      for (let x = 0; x < stride; x++) line[x] = (src[x] + prev[x]) & 0xff;
    } else if (filter === 3) {
      line[0] = (src[0] + (prev[0] >> 1)) & 0xff;
      line[1] = (src[1] + (prev[1] >> 1)) & 0xff;
      for (let x = 2; x < stride; x++) line[x] = (src[x] + ((line[x - 2] + prev[x]) >> 1)) & 0xff;
    } else if (filter === 4) {
      line[0] = (src[0] + prev[0]) & 0xff;
      line[1] = (src[1] + prev[1]) & 0xff;
      for (let x = 2; x < stride; x++) line[x] = (src[x] + paeth(line[x - 2], prev[x], prev[x - 2])) & 0xff;
    } else {
      throw new Error("bad PNG filter");
    }
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = (line[2 * x] << 8) | line[2 * x + 1];
    [prev, line] = [line, prev];
  }
  return { width, height, data: out };
}
