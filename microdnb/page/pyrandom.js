// CPython's random.Random for the browser: MT19937 (Modules/_randommodule.c) and
// Lib/random.py's choices, bit for bit, so that engine.js draws the names the package draws
// for the same seed. No dependencies; tests/test_js_engine.py compares its sequences with
// Python's.

export class PyRandom {
  // seed: an integer (Number or BigInt; a string of digits also works). As random.seed(int):
  // abs(seed), split into 32-bit words least significant first (0 -> [0]), then init_by_array.
  constructor(seed = 0) {
    this.mt = new Uint32Array(624);
    this.seed(seed);
  }

  seed(seed) {
    let n = BigInt(seed); // throws for a non-integer: Python hashes floats and strings, we do not
    if (n < 0n) n = -n;
    const key = [];
    do { key.push(Number(n & 0xffffffffn)); n >>= 32n; } while (n > 0n);
    this._initByArray(key);
    this.gaussNext = null; // gauss's second value, dropped on reseeding as Python does
  }

  _initGenrand(s) {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      // Math.imul: the C code's uint32 multiply wraps mod 2^32; a plain * would round
      mt[i] = Math.imul(1812433253, mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
    }
    this.mti = 624;
  }

  _initByArray(key) {
    this._initGenrand(19650218);
    const mt = this.mt;
    let i = 1, j = 0;
    for (let k = Math.max(624, key.length); k; k--) {
      mt[i] = ((mt[i] ^ Math.imul(mt[i - 1] ^ (mt[i - 1] >>> 30), 1664525)) >>> 0) + key[j] + j;
      i++; j++;
      if (i >= 624) { mt[0] = mt[623]; i = 1; }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k; k--) {
      mt[i] = ((mt[i] ^ Math.imul(mt[i - 1] ^ (mt[i - 1] >>> 30), 1566083941)) >>> 0) - i;
      i++;
      if (i >= 624) { mt[0] = mt[623]; i = 1; }
    }
    mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
  }

  // genrand_uint32: the next 32-bit output (Uint32Array stores wrap every write mod 2^32)
  nextUint32() {
    const mt = this.mt;
    if (this.mti >= 624) {
      for (let kk = 0; kk < 624; kk++) {
        const y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % 624] & 0x7fffffff);
        mt[kk] = mt[(kk + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.mti = 0;
    }
    let y = mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  // random(): 53 random bits from two outputs, (a * 2^26 + b) / 2^53, exact in doubles
  random() {
    const a = this.nextUint32() >>> 5, b = this.nextUint32() >>> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  // choices(range(n), weights=weights, k=k): cumulative sums left to right (itertools.accumulate),
  // then bisect_right(cum, random() * total, 0, n - 1), one random() per draw.
  choices(weights, k = 1) {
    const n = weights.length, cum = new Float64Array(n);
    let acc = 0;
    for (let i = 0; i < n; i++) cum[i] = acc = i ? acc + weights[i] : weights[i];
    const total = cum[n - 1] + 0.0;
    if (!(total > 0)) throw new Error('Total of weights must be greater than zero');
    if (!Number.isFinite(total)) throw new Error('Total of weights must be finite');
    const out = [];
    for (let d = 0; d < k; d++) {
      const x = this.random() * total;
      let lo = 0, hi = n - 1;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (x < cum[mid]) hi = mid; else lo = mid + 1; }
      out.push(lo);
    }
    return out;
  }

  // sampling.draw: rng.choices(range(len(weights)), weights=weights)[0]
  choice(weights) { return this.choices(weights, 1)[0]; }

  // getrandbits(k) for 1 <= k <= 32: the top k bits of one output
  getrandbits(k) {
    if (!(Number.isInteger(k) && k >= 1 && k <= 32)) throw new Error(`k must be an integer in [1, 32], got ${k}`);
    return this.nextUint32() >>> (32 - k);
  }

  // _randbelow(n) (Python's _randbelow_with_getrandbits): k = n.bit_length() bits, redrawn until < n
  randbelow(n) {
    if (!(Number.isInteger(n) && n >= 1 && n <= 0xffffffff)) throw new Error(`n must be an integer in [1, 2**32 - 1], got ${n}`);
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  // shuffle(x) in place: for i from len-1 down to 1, swap x[i] and x[randbelow(i + 1)]
  shuffle(x) {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      [x[i], x[j]] = [x[j], x[i]];
    }
    return x;
  }

  // gauss(mu, sigma): Box-Muller, the second value kept for the next call (Lib/random.py).
  // CPython calls libm's cos, sin and log; V8's may differ from them in the last bit for a
  // few inputs (tests/test_pyrandom_js.py counts how many draws differ, and by how much).
  gauss(mu = 0.0, sigma = 1.0) {
    let z = this.gaussNext;
    this.gaussNext = null;
    if (z === null) {
      const x2pi = this.random() * (2 * Math.PI), g2rad = Math.sqrt(-2.0 * Math.log(1.0 - this.random()));
      z = Math.cos(x2pi) * g2rad;
      this.gaussNext = Math.sin(x2pi) * g2rad;
    }
    return mu + z * sigma;
  }

  // choice(seq) of Python (an element, uniformly): seq[randbelow(len(seq))]. (`choice` above is
  // sampling.draw's weighted draw of an index.)
  pick(seq) { return seq[this.randbelow(seq.length)]; }

  // sample(population, k): k distinct elements, as Lib/random.py draws them (a pool for small
  // populations, else redraws until an index not yet taken)
  sample(population, k) {
    const n = population.length, out = [];
    if (!(Number.isInteger(k) && k >= 0 && k <= n)) throw new Error(`k must be an integer in [0, ${n}], got ${k}`);
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    if (n <= setsize) {
      const pool = [...population];
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        out.push(pool[j]);
        pool[j] = pool[n - i - 1];
      }
    } else {
      const taken = new Set();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (taken.has(j)) j = this.randbelow(n);
        taken.add(j);
        out.push(population[j]);
      }
    }
    return out;
  }
}
