// Worker side of decodePng16Async: decode, then hand the pixels back without copying.
import { decodePng16 } from "./png16.js";

self.onmessage = async (e) => {
  const { id, buffer } = e.data;
  try {
    const result = await decodePng16(buffer);
    self.postMessage({ id, result }, [result.data.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err.message || err) });
  }
};
