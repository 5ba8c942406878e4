// Rotate and crop a photo before sending. The browser applies EXIF orientation when it
// decodes the image, and the canvas output carries no EXIF at all.
export class PhotoEditor {
  constructor(el) {
    this.el = el;
    this.canvas = el.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.file = null;
    this.image = null;
    this.turns = 0;
    this.crop = null; // in rotated-image pixels
    this.drag = null;
    el.querySelector("[data-action=rotate-left]").addEventListener("click", () => this.rotate(-1));
    el.querySelector("[data-action=rotate-right]").addEventListener("click", () => this.rotate(1));
    el.querySelector("[data-action=crop-reset]").addEventListener("click", () => { this.crop = null; this.draw(); });
    this.canvas.addEventListener("pointerdown", (e) => { this.drag = [this.toImage(e), null]; });
    this.canvas.addEventListener("pointermove", (e) => {
      if (this.drag) { this.drag[1] = this.toImage(e); this.draw(); }
    });
    this.canvas.addEventListener("pointerup", () => {
      if (this.drag && this.drag[1]) {
        const [a, b] = this.drag;
        const box = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
        if (box.w > 8 && box.h > 8) this.crop = box;
      }
      this.drag = null;
      this.draw();
    });
  }

  get hidden() { return this.el.hidden; }

  hide() { this.el.hidden = true; }

  async open(file) {
    this.file = file;
    this.turns = 0;
    this.crop = null;
    this.image = await createImageBitmap(file, { imageOrientation: "from-image" });
    this.el.hidden = false;
    this.draw();
  }

  rotate(step) {
    this.turns = (this.turns + step + 4) % 4;
    this.crop = null;
    this.draw();
  }

  rotatedSize() {
    const { width, height } = this.image;
    return this.turns % 2 ? [height, width] : [width, height];
  }

  scale() {
    const [w, h] = this.rotatedSize();
    return Math.min(this.canvas.width / w, this.canvas.height / h);
  }

  toImage(e) {
    const rect = this.canvas.getBoundingClientRect();
    const s = this.scale() * (rect.width / this.canvas.width);
    return { x: (e.clientX - rect.left) / s, y: (e.clientY - rect.top) / s };
  }

  // Draw the rotated image onto `ctx` at scale `s`.
  paint(ctx, s) {
    const [w, h] = this.rotatedSize();
    ctx.save();
    ctx.scale(s, s);
    ctx.translate(w / 2, h / 2);
    ctx.rotate((this.turns * Math.PI) / 2);
    ctx.drawImage(this.image, -this.image.width / 2, -this.image.height / 2);
    ctx.restore();
  }

  draw() {
    const s = this.scale();
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.paint(this.ctx, s);
    let box = this.crop;
    if (this.drag && this.drag[1]) {
      const [a, b] = this.drag;
      box = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
    }
    if (box) {
      this.ctx.strokeStyle = "#e5484d";
      this.ctx.lineWidth = 2;
      this.ctx.strokeRect(box.x * s, box.y * s, box.w * s, box.h * s);
    }
  }

  toBlob() {
    const [w, h] = this.rotatedSize();
    const full = document.createElement("canvas");
    full.width = w;
    full.height = h;
    this.paint(full.getContext("2d"), 1);
    let out = full;
    if (this.crop) {
      out = document.createElement("canvas");
      out.width = Math.round(this.crop.w);
      out.height = Math.round(this.crop.h);
      out.getContext("2d").drawImage(full, this.crop.x, this.crop.y, this.crop.w, this.crop.h, 0, 0, out.width, out.height);
    }
    return new Promise((resolve) => out.toBlob(resolve, "image/jpeg", 0.92));
  }
}
