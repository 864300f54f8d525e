"""The explorer's speed in headless chromium: from a control's input event to the painted frame.

    python benchmarks/bench_explorer.py              # >= 120 changes of every control
    python benchmarks/bench_explorer.py --n 300 --json out.json
    python benchmarks/bench_explorer.py --controls streams seed --height 1600   # every view on screen

Trains the reference model (reference_run(steps=1000, snc_steps=300), numpy engine: a few
seconds), writes one explorer of it into a page served from 127.0.0.1, and opens it in
/usr/bin/chromium (MICRODNB_CHROMIUM overrides) with the tests' flags. Then, in the page,
for each kind of control, N times: at a random moment of a frame (a reader's input comes at
any time), set a new value and dispatch the event a reader's input would fire (input/change,
or a click), then wait for the next animation frame and for the task after that frame's
rendering (a MessageChannel message): the time from before the dispatch to then is one
latency: the decode and the DOM update (the explorer does both in its input handler, while
the page waits for its next frame anyway), the rest of the wait for that frame (8 ms on
average at 60 Hz), style, layout and paint. Also recorded: from the start of that frame to
painted (style, layout, paint), the explorer's own work per redraw (decode + building the
views, x.lastRenderMs), and from a chrome trace of each sweep the CPU time of the page's main
thread per change (all of its work: decode, DOM, style, layout, paint; unlike the wall
times it does not grow while the machine's cores are busy with other work).

Prints a Markdown table (median and p95 per control and overall, in ms) and the size of
one explorer's HTML output. The target is a median of at most 16 ms (one frame at 60 Hz).
Wall-clock times: on a shared machine run it when it is quiet (the load average is printed).
"""
import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'tests'))

from microdnb.config import REFERENCE_BUS  # noqa: E402
from microdnb.page.explorer import explorer, explorer_page  # noqa: E402
from microdnb.reference import reference_run  # noqa: E402
from browser import CHROMIUM, launch  # noqa: E402 (the tests' Chromium and flags, one place)


# Per control: how to make the i-th change (el: the control; x: the explorer). Values cycle so
# that every change is a real change.
CHANGES = {
    'gate slider': ("[data-k=gate]", "el.value = String(((i * 37) % 101) / 100); fire(el, 'input');"),
    'gate buttons': ("[data-k=nonotes]", "(i % 2 ? el : x.root.querySelector('[data-k=trained]')).click();"),
    'cadence': ("[data-k=cadence]", "el.value = String(1 + (i % 8)); fire(el, 'input');"),
    'lag': ("[data-k=lag]", "el.value = String(i % 3); fire(el, 'input');"),
    'streams': ("[data-k=streams]", "el.value = String(2 + (i % 3)); fire(el, 'change');"),
    'temperature': ("[data-k=temperature]", "el.value = String(0.1 + 0.05 * (i % 39)); fire(el, 'input');"),
    'seed': ("[data-k=seed]", "el.value = String(1000 + i); fire(el, 'input');"),
    'prompt': ("[data-k=prompt]", "el.value = ['', 'm', 'ma', 'mar', 'k', 'ka'][i % 6]; fire(el, 'input');"),
    'start letter': ("[data-k=start]", "el.value = ['', 'm', 'a', 'k'][i % 4]; fire(el, 'change');"),
    'stream': ("[data-k=stream]", "el.value = String(i % el.options.length); fire(el, 'change');"),
    'position': ("[data-k=pos]", "el.value = String(i % (Number(el.max) + 1)); fire(el, 'input');"),
    'timeline click': (".mdx-tl", "const cells = el.querySelectorAll('td[data-s]'); cells[(i * 7) % cells.length].click();"),
}

MEASURE_JS = """
async ({sel, change, n, warm}) => {
  const x = window.microdnb.explorers[0];
  const fire = (el, type) => el.dispatchEvent(new Event(type, {bubbles: true}));
  const act = new Function('x', 'el', 'i', 'fire', change);
  const painted = () => new Promise(r => requestAnimationFrame(() => {
    const ch = new MessageChannel(); ch.port1.onmessage = () => r(performance.now()); ch.port2.postMessage(0); }));
  const out = {latency: [], frame: [], work: []};
  for (let i = 0; i < n + warm; i++) {
    // a reader's input comes at any moment of a frame: start at a random one
    await new Promise(r => setTimeout(r, Math.random() * 17));
    const el = x.root.querySelector(sel), before = x.renders;
    let tFrame = 0;
    requestAnimationFrame(() => { tFrame = performance.now(); }); // runs first in the next frame
    const t0 = performance.now();
    act(x, el, i, fire);
    const t1 = await painted();
    if (x.renders === before) throw new Error(`change ${i} of ${sel} did not redraw`);
    if (i >= warm) { out.latency.push(t1 - t0); out.frame.push(t1 - tFrame); out.work.push(x.lastRenderMs); }
  }
  return out;
}
"""


def main_thread_cpu_ms(trace):
    """CPU time of the page's main thread (every task: decode, DOM, style, layout, paint) in a
    chrome trace: unlike wall time, it does not count waiting for a busy machine's cores."""
    events = json.loads(Path(trace).read_text())['traceEvents']
    main = {(e['pid'], e['tid']) for e in events if e.get('ph') == 'M' and e.get('name') == 'thread_name'
            and e['args'].get('name') == 'CrRendererMain'}
    return sum(e.get('tdur', 0) for e in events if e.get('ph') == 'X' and e.get('cat') == 'toplevel'
               and (e['pid'], e['tid']) in main) / 1000


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--n', type=int, default=120, help='changes per control (default 120)')
    ap.add_argument('--warm', type=int, default=20, help='changes per control before measuring (default 20)')
    ap.add_argument('--json', default=None, help='also write the numbers to this file')
    ap.add_argument('--controls', nargs='+', choices=sorted(CHANGES), metavar='CONTROL', default=list(CHANGES),
                    help=f"measure only these (default: all: {', '.join(CHANGES)})")
    ap.add_argument('--height', type=int, default=900,
                    help='viewport height in px (default 900: the controls and the first views; 1600 shows all)')
    args = ap.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} not found: `make browser-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    t = time.perf_counter()
    run = reference_run(steps=1000, snc_steps=300)
    print(f"[bench] trained the reference model in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    ex = explorer(run['params'], run['cfg'], run['tokenizer'], REFERENCE_BUS, title='Reference model')
    build = time.perf_counter() - t
    size = len(ex.html.encode())
    with tempfile.TemporaryDirectory() as site:
        Path(site, 'index.html').write_text(explorer_page([ex]), encoding='utf-8')

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=site))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        rows, everything, frame_all, work_all, cpu_all = [], [], [], [], []
        load0 = os.getloadavg()[0]
        try:
            with sync_playwright() as pw:
                browser = launch(pw)
                page = browser.new_page(viewport={'width': 1000, 'height': args.height})
                page.goto(f'http://127.0.0.1:{httpd.server_address[1]}/index.html')
                page.wait_for_function('() => window.microdnb && window.microdnb.explorers.length === 1')
                first = page.evaluate('() => window.microdnb.explorers[0].lastRenderMs')
                for name in args.controls:
                    sel, change = CHANGES[name]
                    trace = Path(site, 'trace.json')
                    browser.start_tracing(page=page, path=str(trace), categories=['toplevel'])
                    got = page.evaluate(MEASURE_JS, {'sel': sel, 'change': change, 'n': args.n, 'warm': args.warm})
                    browser.stop_tracing()
                    lat, frame, work = got['latency'], got['frame'], got['work']
                    everything += lat
                    frame_all += frame
                    work_all += work
                    cpu = main_thread_cpu_ms(trace) / (args.n + args.warm)
                    cpu_all.append(cpu)
                    rows.append((name, len(lat), statistics.median(lat), quantile(lat, 0.95),
                                 statistics.median(frame), statistics.median(work), cpu))
                    print(f"[bench] {name}: median {rows[-1][2]:.1f} ms", flush=True)
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    load1 = os.getloadavg()[0]
    overall = ('all controls', len(everything), statistics.median(everything), quantile(everything, 0.95),
               statistics.median(frame_all), statistics.median(work_all), statistics.mean(cpu_all))
    print(f"\nExplorer of the reference model ({run['cfg'].n_params:,} parameters), headless chromium, "
          f"{os.cpu_count()} cores, load average {load0:.1f} -> {load1:.1f}\n")
    print("| control | changes | input to painted frame: median (ms) | p95 (ms) | "
          "frame start to painted: median (ms) | decode + views: median (ms) | page's main-thread CPU per change (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, med, p95, fr, w, cpu in rows + [overall]:
        b = '**' if name == 'all controls' else ''
        print(f"| {b}{name}{b} | {n} | {b}{med:.1f}{b} | {p95:.1f} | {fr:.1f} | {w:.1f} | {cpu:.1f} |")
    verdict = 'meets' if overall[2] <= 16 else 'misses'
    print(f"\nOverall median {overall[2]:.1f} ms: {verdict} the 16 ms target. First draw (cold): {first:.1f} ms.")
    print(f"One explorer's HTML output: {size:,} bytes ({size / 1024:.0f} kB), built in {build * 1000:.0f} ms.")
    if args.json:
        Path(args.json).write_text(json.dumps({
            'rows': [dict(zip(('control', 'n', 'median_ms', 'p95_ms', 'frame_median_ms', 'work_median_ms', 'cpu_ms'), r))
                     for r in rows + [overall]],
            'html_bytes': size, 'load': [load0, load1], 'cores': os.cpu_count()}, indent=1) + '\n')


if __name__ == '__main__':
    main()
