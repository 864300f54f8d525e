// microdnb's trainer, its view: the loss curve (and the gate's, where phase 2 trains one) on
// a canvas, the numbers beside it and the sentence that stands for the canvas in the
// accessibility tree. The curve is redrawn on requestAnimationFrame by trainer.js; nothing
// here trains or touches the worker. Single names give very noisy losses (chapter 4), so the
// raw losses are drawn faint and an exponential moving average over them as the line, for the
// reader's run and for the run the chapter computed in Python (the payload's `reference`).

// The EMA over `values` with smoothing factor `alpha` (about a 2 / alpha - 1 step window),
// started at the first value: ema[t] = ema[t-1] + alpha * (x[t] - ema[t-1])
export function ema(values, alpha, out = []) {
  for (let t = out.length; t < values.length; t++) {
    out.push(t === 0 ? values[0] : out[t - 1] + alpha * (values[t] - out[t - 1]));
  }
  return out;
}

const ALPHA = 2 / 51; // as the chapter's 50-step moving average

// A series: raw values and their EMA, extended as records arrive
const series = values => ({ raw: values, smooth: ema(values, ALPHA) });

// The canvas's colours: view.css's variables, so the curve follows the page's theme (read
// at most once a second: getComputedStyle makes the browser apply pending style changes)
function palette(el) {
  const cs = getComputedStyle(el), v = k => cs.getPropertyValue(k).trim();
  return { fg: v('--mdx-fg'), muted: v('--mdx-muted'), line: v('--mdx-line'), live: v('--mdx-with'),
           ref: v('--mdx-trunk'), bg: v('--mdx-bg') };
}

// One panel: [y0, y1] of the canvas, the value range [lo, hi], a label
function panel(ctx, p, box, { lo, hi, label, xMax }) {
  const [x0, x1, y0, y1] = box;
  ctx.strokeStyle = p.line;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.fillStyle = p.muted;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'right';
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(fmt(v, hi - lo), x0 - 4, y1 - ((v - lo) / (hi - lo)) * (y1 - y0) + 4);
  ctx.textAlign = 'left';
  ctx.fillText(label, x0 + 4, y0 + 12);
  return { x: s => x0 + (s / Math.max(1, xMax)) * (x1 - x0), y: v => y1 - ((v - lo) / (hi - lo || 1)) * (y1 - y0) };
}

const fmt = (v, span) => (span < 0.01 ? v.toFixed(4) : span < 1 ? v.toFixed(3) : v.toFixed(1));

function polyline(ctx, pts, map, color, width, dash = []) {
  if (!pts.length) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.beginPath();
  pts.forEach((v, s) => (s ? ctx.lineTo(map.x(s), map.y(v)) : ctx.moveTo(map.x(s), map.y(v))));
  ctx.stroke();
  ctx.setLineDash([]);
}

// One small square per step, faint, filled as one path (one fill for thousands of dots)
function dots(ctx, pts, map, color) {
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.22;
  ctx.beginPath();
  pts.forEach((v, s) => ctx.rect(map.x(s) - 1, map.y(v) - 1, 2, 2));
  ctx.fill();
  ctx.globalAlpha = 1;
}

// The range of the values of `lists`, widened to whole multiples of `unit` (a power of ten
// near a tenth of the span), so that it changes seldom as a run adds values: each change
// redraws the background
const extent = lists => {
  let lo = Infinity, hi = -Infinity;
  for (const l of lists) for (const v of l) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo > hi) return [0, 1];
  const unit = 10 ** Math.floor(Math.log10(Math.max(hi - lo, Math.abs(hi) * 1e-3, 1e-9)) - 1);
  return [Math.floor(lo / unit) * unit, Math.ceil(hi / unit) * unit + (lo === hi ? unit : 0)];
};

// The curve of one trainer: reset(reference, numSteps) before a run, push(record) per step
// (record: {step, loss, lr, gate}), draw() when a frame comes (cheap when nothing changed)
export class Curve {
  constructor(canvas, root) {
    this.canvas = canvas;
    this.root = root;
    this.reset(null, 0);
  }

  reset(reference, numSteps) {
    this.refLoss = series(reference ? reference.loss : []);
    this.refGate = series(reference && reference.gate ? reference.gate : []);
    this.hasGate = Boolean(reference && reference.gate);
    this.loss = series([]);
    this.gate = series([]);
    this.numSteps = numSteps;
    this.last = null;
    this.bgKey = null;
    this.dirty = true;
  }

  push(rec) {
    this.loss.raw.push(rec.loss);
    ema(this.loss.raw, ALPHA, this.loss.smooth); // one more value: O(1)
    if (this.hasGate && rec.gate !== undefined && rec.gate !== null) this.gate.raw.push(rec.gate);
    this.last = rec;
    this.dirty = true;
  }

  draw() {
    if (!this.dirty) return false;
    this.dirty = false;
    const c = this.canvas, dpr = window.devicePixelRatio || 1, w = c.clientWidth || 640, h = c.clientHeight || 260;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    if (!this.p || performance.now() - this.pAt > 1000) { this.p = palette(this.root); this.pAt = performance.now(); }
    const ctx = c.getContext('2d'), p = this.p, { m, g } = this.background(p, w, h, dpr);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.bg, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    dots(ctx, this.loss.raw, m, p.live);
    polyline(ctx, this.loss.smooth, m, p.live, 2.5);
    if (g) polyline(ctx, this.gate.raw, g, p.live, 2.5);
    return true;
  }

  // The axes and the chapter's run, drawn once into an offscreen canvas and copied each frame
  // (thousands of dots and a dashed line cost a frame's budget): drawn again only when the
  // size, the theme or the ranges change (the reader's run leaving the chapter's range).
  // Returns the maps from (step, value) to the canvas, {m: the loss panel, g: the gate's}.
  background(p, w, h, dpr) {
    const xMax = Math.max(this.numSteps, this.refLoss.raw.length) - 1, split = this.hasGate ? 0.62 : 1;
    const [lo, hi] = extent([this.refLoss.raw, this.loss.raw]), [glo, ghi] = extent([this.refGate.raw, this.gate.raw]);
    const key = JSON.stringify([w, h, dpr, xMax, lo, hi, glo, ghi, p, this.hasGate]);
    if (key === this.bgKey) return this.maps;
    this.bg = this.bg || document.createElement('canvas');
    this.bg.width = this.canvas.width;
    this.bg.height = this.canvas.height;
    const ctx = this.bg.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = p.bg;
    ctx.fillRect(0, 0, w, h);
    const m = panel(ctx, p, [46, w - 8, 6, h * split - (this.hasGate ? 14 : 22)],
      { lo: Math.max(0, lo), hi: Math.min(hi, 6), label: 'loss (dots: each step; line: moving average)', xMax });
    dots(ctx, this.refLoss.raw, m, p.ref);
    polyline(ctx, this.refLoss.smooth, m, p.ref, 2, [6, 4]);
    let g = null;
    if (this.hasGate) {
      g = panel(ctx, p, [46, w - 8, h * split + 2, h - 22], { lo: Math.max(0, glo), hi: Math.min(1, ghi), label: 'gate', xMax });
      polyline(ctx, this.refGate.raw, g, p.ref, 2, [6, 4]);
    }
    ctx.fillStyle = p.muted;
    ctx.textAlign = 'center';
    ctx.fillText(`step (0 to ${xMax + 1})`, w / 2, h - 6);
    this.bgKey = key;
    this.maps = { m, g };
    return this.maps;
  }

  // What the run has reached, for the numbers beside the curve and the canvas's description:
  // [[term, value], ...]
  numbers() {
    const n = this.loss.raw.length, r = this.last, at = n - 1, ref = this.refLoss.smooth;
    const rows = [['step', n ? `${n} of ${this.numSteps}` : `0 of ${this.numSteps}`],
      ['loss, moving average', n ? this.loss.smooth[at].toFixed(4) : '–'],
      ['the chapter\u2019s run there', ref.length ? ref[Math.min(Math.max(at, 0), ref.length - 1)].toFixed(4) : '–'],
      ['this step\u2019s loss', n ? r.loss.toFixed(4) : '–'],
      ['learning rate', r && r.lr !== undefined ? (r.lr < 1e-3 ? r.lr.toExponential(2) : r.lr.toPrecision(3)) : '–']];
    if (this.hasGate) {
      rows.push(['gate', r && r.gate !== undefined ? r.gate.toFixed(4) : '–'],
        ['the chapter\u2019s gate there', this.refGate.raw.length ? this.refGate.raw[Math.min(Math.max(at, 0), this.refGate.raw.length - 1)].toFixed(4) : '–']);
    }
    return rows;
  }
}

// The canvas's text alternative: what the curve shows, in one sentence
export function curveSummary(curve, title) {
  const n = curve.loss.raw.length, ref = curve.refLoss.smooth;
  const refText = ref.length ? ` The chapter's run (dashed) falls from ${ref[0].toFixed(2)} to ${ref[ref.length - 1].toFixed(2)} over ${ref.length} steps.` : '';
  const live = n ? ` Your run (solid) is at step ${n} of ${curve.numSteps}, its moving average ${curve.loss.smooth[n - 1].toFixed(2)}` +
    (curve.hasGate && curve.gate.raw.length ? `, the gate ${curve.gate.raw[curve.gate.raw.length - 1].toFixed(4)}.` : '.') : ' Press Train to draw your run beside it.';
  return `${title}: loss per step${curve.hasGate ? ' and the gate' : ''}.${refText}${live}`;
}
