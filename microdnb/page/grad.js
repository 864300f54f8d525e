// The GPT on flat Float64Arrays, one position at a time, with its hand-written backward: the
// numpy engine's forward/backward (vector/model.py, layers.py) written out per position, the
// way a KV cache runs it, for training in the page. Read it next to vector/model.py: same
// names (wte, wpe, lm_head, layer0.attn_wq, snc_wq, snc_gate, notes_proj, planner_proj), same
// order of operations where it changes rounding (x * (1 / n), e * (1 / total), the gate as
// 1 / (1 + e^-g)). Sums run left to right where numpy's BLAS groups terms otherwise, so the
// losses and gradients agree with numpy's to ~1e-14, not bit for bit (tests/test_js_train.py).
//
// Every parameter lives in one vector `theta` (param_shapes order: the trunk first, then the
// SNC_KEYS, so each phase's Adam updates one contiguous range) and its gradient in `grad`.
// A *slot* i = row * block_size + pos is one position of one cache row (a stream); everything
// its backward needs is kept in preallocated arrays indexed by slot (and layer), so a
// training step allocates nothing. Positions of a row must run in order (the KV cache), and
// the backward must visit slots in the reverse of the forward's order: then every gradient
// that flows into a key/value or a note from later positions has arrived before the slot
// that made it is reached (vector/model.py's rule for blocks).

import { gateValue, paramShapes } from './engine.js';

const NORM_EPS = 1e-5; // vector/layers.py NORM_EPS

// name -> offset into theta, in param_shapes order; nBase: where the SNC_KEYS start
export function layout(cfg) {
  const shapes = paramShapes(cfg), off = {};
  let size = 0, nBase = 0;
  for (const [name, [r, c]] of Object.entries(shapes)) {
    if (name === 'notes_proj') nBase = size;
    off[name] = size;
    size += r * c;
  }
  return { shapes, off, size, nBase };
}

// y[yo..] = W x: numpy's x @ W.T (W rows x cols at `wo` in theta)
function mv(W, wo, rows, cols, x, xo, y, yo) {
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0, o = wo + i * cols; j < cols; j++) s += W[o + j] * x[xo + j];
    y[yo + i] = s;
  }
}

// dx[dxo..] += W^T dy: the gradient of W x with respect to x
function mvtAdd(W, wo, rows, cols, dy, dyo, dx, dxo) {
  for (let i = 0; i < rows; i++) {
    const d = dy[dyo + i];
    if (d === 0) continue;
    for (let j = 0, o = wo + i * cols; j < cols; j++) dx[dxo + j] += d * W[o + j];
  }
}

// G += dy x^T: the gradient of W in y = W x (linear_grad)
function outerAdd(G, go, rows, cols, dy, dyo, x, xo) {
  for (let i = 0; i < rows; i++) {
    const d = dy[dyo + i];
    if (d === 0) continue;
    for (let j = 0, o = go + i * cols; j < cols; j++) G[o + j] += d * x[xo + j];
  }
}

// y = x / sqrt(mean(x^2) + eps) (layers.rmsnorm); returns the scale
function rmsnorm(x, xo, n, y, yo) {
  let ss = 0;
  for (let j = 0; j < n; j++) ss += x[xo + j] * x[xo + j];
  const scale = (ss * (1.0 / n) + NORM_EPS) ** -0.5;
  for (let j = 0; j < n; j++) y[yo + j] = x[xo + j] * scale;
  return scale;
}

// dx += rmsnorm_backward(dy): scale dy - (scale^3 / n) x sum(dy x)
function rmsnormBackAdd(dy, dyo, x, xo, scale, n, dx, dxo) {
  let s = 0;
  for (let j = 0; j < n; j++) s += dy[dyo + j] * x[xo + j];
  const c = scale ** 3 * (1.0 / n);
  for (let j = 0; j < n; j++) dx[dxo + j] += scale * dy[dyo + j] - c * x[xo + j] * s;
}

// softmax in place over w[wo .. wo + n): exp(x - max) * (1 / sum)
function softmaxIn(w, wo, n) {
  let m = -Infinity, total = 0;
  for (let j = 0; j < n; j++) if (w[wo + j] > m) m = w[wo + j];
  for (let j = 0; j < n; j++) { const e = Math.exp(w[wo + j] - m); w[wo + j] = e; total += e; }
  const inv = 1.0 / total;
  for (let j = 0; j < n; j++) w[wo + j] *= inv;
}

// One query's attention, every head: out = sum_j w_j v_j with w = softmax(q.k_j * scale),
// keys j = 0..n-1 at K[kBase + j * E] (or at K[idx[io + j] * E] when idx is given: bus slots)
function attend(H, hd, q, qo, K, V, kBase, idx, io, n, w, wo, out, oo) {
  const scale = 1.0 / Math.sqrt(hd), E = H * hd;
  for (let h = 0; h < H; h++) {
    const hw = wo + h * n, ho = h * hd;
    for (let j = 0; j < n; j++) {
      const ko = (idx ? idx[io + j] : j) * E + kBase + ho;
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[qo + ho + d] * K[ko + d];
      w[hw + j] = s * scale;
    }
    softmaxIn(w, hw, n);
    for (let d = 0; d < hd; d++) out[oo + ho + d] = 0;
    for (let j = 0; j < n; j++) {
      const vo = (idx ? idx[io + j] : j) * E + kBase + ho, wj = w[hw + j];
      for (let d = 0; d < hd; d++) out[oo + ho + d] += wj * V[vo + d];
    }
  }
}

// attention_backward for one query: dq = (given da), dK/dV of each key accumulated
function attendBack(H, hd, da, dao, q, qo, K, V, dK, dV, kBase, idx, io, n, w, wo, dw, dq) {
  const scale = 1.0 / Math.sqrt(hd), E = H * hd;
  for (let h = 0; h < H; h++) {
    const hw = wo + h * n, ho = h * hd;
    let sdw = 0;
    for (let j = 0; j < n; j++) {
      const vo = (idx ? idx[io + j] : j) * E + kBase + ho, wj = w[hw + j];
      let s = 0;
      for (let d = 0; d < hd; d++) { s += da[dao + ho + d] * V[vo + d]; dV[vo + d] += wj * da[dao + ho + d]; }
      dw[j] = s;
      sdw += s * wj;
    }
    for (let d = 0; d < hd; d++) dq[ho + d] = 0;
    for (let j = 0; j < n; j++) {
      const ko = (idx ? idx[io + j] : j) * E + kBase + ho, g = w[hw + j] * (dw[j] - sdw) * scale;
      if (g === 0) continue;
      for (let d = 0; d < hd; d++) { dq[ho + d] += g * K[ko + d]; dK[ko + d] += g * q[qo + ho + d]; }
    }
  }
}

// The Float64Arrays of a Net, name -> length: what one training step works in, allocated once
function buffers(cfg, rows, noteSlots) {
  const E = cfg.n_embd, L = cfg.n_layer, T = cfg.block_size, F = 4 * E, H = cfg.n_head, D = cfg.notes_dim;
  const N = rows * T, NL = N * L, M = Math.max(1, noteSlots), P = layout(cfg).size, out = { theta: P, grad: P };
  // per slot
  Object.assign(out, { emb: N * E, s0: N, hidden: N * E, logp: N * cfg.vocab_size });
  // per slot and layer (ws: SNC's attention weights over at most M notes)
  for (const k of ['xin', 'xn', 'q', 'a', 'xatt', 'qs', 'o', 'proj', 'xmid', 'xn2']) out[k] = NL * E;
  Object.assign(out, { s1: NL, s2: NL, h: NL * F, w: NL * H * T, ws: NL * H * M });
  // the KV cache and its gradients: [layer][row][pos][E]
  Object.assign(out, { K: L * N * E, Vc: L * N * E, dK: L * N * E, dV: L * N * E });
  // the bus: per slot a note, its SNC key and value, and their gradients
  Object.assign(out, { note: M * D, nk: M * E, nv: M * E, dnk: M * E, dnv: M * E });
  // scratch
  return Object.assign(out, { dx: E, dxn: E, dh: F, dq: E, dproj: E, dw: Math.max(T, M), dlog: cfg.vocab_size, dnote: D, dhid: E });
}

// The bytes a Net of this shape holds (its buffers; the reads index besides)
export const netBytes = (cfg, rows, noteSlots) =>
  8 * Object.values(buffers(cfg, rows, noteSlots)).reduce((a, b) => a + b, 0) + 4 * rows * cfg.block_size * (1 + Math.max(1, noteSlots));

// The Net a trainer of `streams` streams needs: a cache row per stream and per plan seed (phase
// 1 uses the first), and per stream its seed and a post every `cadence` positions on the bus
export const netShape = (cfg, streams, cadence) =>
  ({ rows: 2 * streams, noteSlots: streams * (1 + Math.floor(cfg.block_size / cadence)) });

// The forward record of `rows` cache rows x block_size positions, and the notes bus's slots
// (each note with its SNC key and value, made once when it is posted), for one model shape.
export class Net {
  constructor(cfg, rows, noteSlots) {
    for (const k of ['vocab_size', 'n_layer', 'n_embd', 'block_size', 'n_head', 'notes_dim']) {
      if (!(cfg && Number.isInteger(cfg[k]) && cfg[k] >= 1)) throw new Error(`cfg.${k} must be a positive integer, got ${cfg && cfg[k]}`);
    }
    if (cfg.n_embd % cfg.n_head) throw new Error(`cfg.n_head must divide cfg.n_embd (${cfg.n_embd}), got ${cfg.n_head}`);
    if (!(Number.isInteger(rows) && rows >= 1)) throw new Error(`rows must be an integer >= 1, got ${rows}`);
    if (!(Number.isInteger(noteSlots) && noteSlots >= 0)) throw new Error(`noteSlots must be an integer >= 0, got ${noteSlots}`);
    const E = cfg.n_embd, L = cfg.n_layer, T = cfg.block_size, F = 4 * E, H = cfg.n_head;
    Object.assign(this, { cfg, E, L, T, F, H, hd: E / H, V: cfg.vocab_size, D: cfg.notes_dim, rows, M: Math.max(1, noteSlots) });
    this.lay = layout(cfg);
    // each layer's weights' offsets, looked up once (no string keys in the hot loops)
    this.lw = Array.from({ length: L }, (_, li) => {
      const o = name => this.lay.off[`layer${li}.${name}`];
      return { wq: o('attn_wq'), wk: o('attn_wk'), wv: o('attn_wv'), wo: o('attn_wo'), fc1: o('mlp_fc1'), fc2: o('mlp_fc2') };
    });
    for (const [name, n] of Object.entries(buffers(cfg, rows, noteSlots))) this[name] = new Float64Array(n);
    this.nread = new Int32Array(rows * T); this.reads = new Int32Array(rows * T * this.M);
    this.gate = 0;
    const g = this.lay.off.snc_gate;
    this.gateModel = { params: { snc_gate: { data: this.theta.subarray(g, g + 1) } } };
  }

  // Before a forward: the gate sigmoid(logit), engine.js's gateValue of the logit in theta
  begin() { this.gate = gateValue(this.gateModel); }

  // Before a backward: zero the gradients of the cache and of the notes
  zeroFlow() { this.dK.fill(0); this.dV.fill(0); this.dnk.fill(0); this.dnv.fill(0); }

  // `token` at `pos` of cache row `row` through the GPT, reading the first `nr` notes of
  // `slots` (bus slot numbers; none: SNC skipped, the scalar engine's zero delta). Returns the slot.
  forward(row, pos, token, slots = null, nr = 0) {
    const { E, L, T, F, H, hd, theta: P, lay: { off } } = this, i = row * T + pos, N = this.rows * T;
    this.nread[i] = nr;
    for (let j = 0; j < nr; j++) this.reads[i * this.M + j] = slots[j];
    const xo = i * E;
    for (let j = 0; j < E; j++) this.emb[xo + j] = P[off.wte + token * E + j] + P[off.wpe + pos * E + j];
    const xin = this.xin;
    this.s0[i] = rmsnorm(this.emb, xo, E, xin, i * L * E);
    for (let li = 0; li < L; li++) {
      const k = i * L + li, ko = k * E, lw = this.lw[li];
      // 1) self-attention over this row's positions 0..pos (the cache)
      this.s1[k] = rmsnorm(xin, ko, E, this.xn, ko);
      const cb = (li * N + row * T) * E; // this row's cache, position 0
      mv(P, lw.wq, E, E, this.xn, ko, this.q, ko);
      mv(P, lw.wk, E, E, this.xn, ko, this.K, cb + pos * E);
      mv(P, lw.wv, E, E, this.xn, ko, this.Vc, cb + pos * E);
      attend(H, hd, this.q, ko, this.K, this.Vc, cb, null, 0, pos + 1, this.w, k * H * T, this.a, ko);
      mv(P, lw.wo, E, E, this.a, ko, this.xatt, ko);
      for (let j = 0; j < E; j++) this.xatt[ko + j] += xin[ko + j];
      // SNC: gated cross-attention over the notes read, between self-attention and the MLP
      if (nr) {
        mv(P, off.snc_wq, E, E, this.xatt, ko, this.qs, ko);
        attend(H, hd, this.qs, ko, this.nk, this.nv, 0, this.reads, i * this.M, nr, this.ws, k * H * this.M, this.o, ko);
        mv(P, off.snc_wo, E, E, this.o, ko, this.proj, ko);
        for (let j = 0; j < E; j++) this.xmid[ko + j] = this.xatt[ko + j] + this.gate * this.proj[ko + j];
      } else {
        for (let j = 0; j < E; j++) this.xmid[ko + j] = this.xatt[ko + j];
      }
      // 2) MLP: fc2(relu(fc1(rmsnorm(x)))) + x
      this.s2[k] = rmsnorm(this.xmid, ko, E, this.xn2, ko);
      mv(P, lw.fc1, F, E, this.xn2, ko, this.h, k * F);
      const out = li + 1 < L ? xin : this.hidden, oo = li + 1 < L ? ko + E : xo;
      for (let j = 0; j < E; j++) {
        let s = 0;
        for (let m = 0, wo = lw.fc2 + j * F; m < F; m++) s += P[wo + m] * Math.max(this.h[k * F + m], 0.0);
        out[oo + j] = s + this.xmid[ko + j];
      }
    }
    return i;
  }

  // -log p(target) at slot i, keeping log_softmax(logits) for the backward
  loss(i, target) {
    const { E, V, theta: P, lay: { off } } = this, lo = i * V;
    mv(P, off.lm_head, V, E, this.hidden, i * E, this.logp, lo);
    let m = -Infinity, total = 0;
    for (let j = 0; j < V; j++) if (this.logp[lo + j] > m) m = this.logp[lo + j];
    for (let j = 0; j < V; j++) { this.logp[lo + j] -= m; total += Math.exp(this.logp[lo + j]); }
    const lt = Math.log(total);
    for (let j = 0; j < V; j++) this.logp[lo + j] -= lt;
    return -this.logp[lo + target];
  }

  // bus slot j holds `proj` (notes_proj or planner_proj) of slot i's hidden state
  post(j, i, proj) {
    const { E, D, theta: P, lay: { off } } = this;
    mv(P, off[proj], D, E, this.hidden, i * E, this.note, j * D);
    mv(P, off.snc_wk, E, D, this.note, j * D, this.nk, j * E);
    mv(P, off.snc_wv, E, D, this.note, j * D, this.nv, j * E);
  }

  // After every read of bus slot j has been backpropagated: the gradients of snc_wk, snc_wv
  // and `proj` from it; returns dhidden (of the slot i that posted it) in this.dhid
  noteBack(j, i, proj) {
    const { E, D, theta: P, grad: G, lay: { off } } = this, dn = this.dnote;
    dn.fill(0);
    mvtAdd(P, off.snc_wk, E, D, this.dnk, j * E, dn, 0);
    mvtAdd(P, off.snc_wv, E, D, this.dnv, j * E, dn, 0);
    outerAdd(G, off.snc_wk, E, D, this.dnk, j * E, this.note, j * D);
    outerAdd(G, off.snc_wv, E, D, this.dnv, j * E, this.note, j * D);
    outerAdd(G, off[proj], D, E, dn, 0, this.hidden, i * E);
    this.dhid.fill(0);
    mvtAdd(P, off[proj], D, E, dn, 0, this.dhid, 0);
    return this.dhid;
  }

  // Backpropagate slot i (row, pos, token): dlogits = (exp(logp) - onehot(target)) * scale
  // (target < 0: no loss here), plus dhidden if given. trunk = false (phase 2): no gradient for
  // the trunk's weights, and stop below the lowest SNC, as vector.model.backward does.
  backward(row, pos, token, target, scale, dhidden, trunk) {
    const { E, L, T, F, H, hd, V, theta: P, grad: G, lay: { off } } = this, i = row * T + pos, N = this.rows * T;
    const dx = this.dx, xo = i * E;
    dx.fill(0);
    if (target >= 0) {
      const dl = this.dlog, lo = i * V;
      for (let j = 0; j < V; j++) dl[j] = Math.exp(this.logp[lo + j]);
      dl[target] -= 1.0;
      for (let j = 0; j < V; j++) dl[j] *= scale;
      if (trunk) outerAdd(G, off.lm_head, V, E, dl, 0, this.hidden, xo);
      mvtAdd(P, off.lm_head, V, E, dl, 0, dx, 0);
    }
    if (dhidden) for (let j = 0; j < E; j++) dx[j] += dhidden[j];
    const dh = this.dh, dxn = this.dxn, nr = this.nread[i];
    for (let li = L - 1; li >= 0; li--) {
      const k = i * L + li, ko = k * E, lw = this.lw[li], ho = k * F;
      // MLP
      for (let m = 0; m < F; m++) dh[m] = 0;
      mvtAdd(P, lw.fc2, E, F, dx, 0, dh, 0);
      for (let m = 0; m < F; m++) if (!(this.h[ho + m] > 0)) dh[m] = 0;
      if (trunk) {
        const g2 = lw.fc2;
        for (let j = 0; j < E; j++) {
          const d = dx[j];
          for (let m = 0, o = g2 + j * F; m < F; m++) G[o + m] += d * Math.max(this.h[ho + m], 0.0);
        }
        outerAdd(G, lw.fc1, F, E, dh, 0, this.xn2, ko);
      }
      dxn.fill(0);
      mvtAdd(P, lw.fc1, F, E, dh, 0, dxn, 0);
      rmsnormBackAdd(dxn, 0, this.xmid, ko, this.s2[k], E, dx, 0);
      // SNC: x_mid = x_att + gate * snc_wo(attention(snc_wq x_att, notes))
      if (nr) {
        const g = this.gate;
        let s = 0;
        for (let j = 0; j < E; j++) s += dx[j] * this.proj[ko + j];
        G[off.snc_gate] += s * g * (1.0 - g); // sigmoid' = g (1 - g)
        const dproj = this.dproj;
        for (let j = 0; j < E; j++) dproj[j] = dx[j] * g;
        outerAdd(G, off.snc_wo, E, E, dproj, 0, this.o, ko);
        dxn.fill(0);
        mvtAdd(P, off.snc_wo, E, E, dproj, 0, dxn, 0);
        attendBack(H, hd, dxn, 0, this.qs, ko, this.nk, this.nv, this.dnk, this.dnv, 0,
                   this.reads, i * this.M, nr, this.ws, k * H * this.M, this.dw, this.dq);
        outerAdd(G, off.snc_wq, E, E, this.dq, 0, this.xatt, ko);
        mvtAdd(P, off.snc_wq, E, E, this.dq, 0, dx, 0);
      }
      if (!trunk && li === 0) return;
      // self-attention: x_att = wo(attention(q, k, v)) + x_in
      if (trunk) outerAdd(G, lw.wo, E, E, dx, 0, this.a, ko);
      dxn.fill(0);
      mvtAdd(P, lw.wo, E, E, dx, 0, dxn, 0);
      const cb = (li * N + row * T) * E, co = cb + pos * E;
      attendBack(H, hd, dxn, 0, this.q, ko, this.K, this.Vc, this.dK, this.dV, cb, null, 0, pos + 1,
                 this.w, k * H * T, this.dw, this.dq);
      // this position's own key and value have now received every later position's gradient
      if (trunk) {
        outerAdd(G, lw.wq, E, E, this.dq, 0, this.xn, ko);
        outerAdd(G, lw.wk, E, E, this.dK, co, this.xn, ko);
        outerAdd(G, lw.wv, E, E, this.dV, co, this.xn, ko);
      }
      dxn.fill(0);
      mvtAdd(P, lw.wq, E, E, this.dq, 0, dxn, 0);
      mvtAdd(P, lw.wk, E, E, this.dK, co, dxn, 0);
      mvtAdd(P, lw.wv, E, E, this.dV, co, dxn, 0);
      rmsnormBackAdd(dxn, 0, this.xin, ko, this.s1[k], E, dx, 0);
    }
    // the embedding: x0 = rmsnorm(wte[token] + wpe[pos])
    dxn.fill(0);
    rmsnormBackAdd(dx, 0, this.emb, xo, this.s0[i], E, dxn, 0);
    if (trunk) {
      for (let j = 0; j < E; j++) { G[off.wte + token * E + j] += dxn[j]; G[off.wpe + pos * E + j] += dxn[j]; }
    }
  }
}
