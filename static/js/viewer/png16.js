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
    for (let x = 0; x < stride; x++) {
      const value = raw[p++];
      const left = x >= 2 ? line[x - 2] : 0;
      const up = prev[x];
      const upLeft = x >= 2 ? prev[x - 2] : 0;
      let v;
      switch (filter) {
        case 1: v = value + left; break;
        case 2: v = value + up; break;
        case 3: v = value + ((left + up) >> 1); break;
        case 4: v = value + paeth(left, up, upLeft); break;
        default: v = value;
      }
      line[x] = v & 0xff;
    }
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = (line[2 * x] << 8) | line[2 * x + 1];
    [prev, line] = [line, prev];
  }
  return { width, height, data: out };
}
