"""The page's port of CPython's random.Random (microdnb/page/pyrandom.js), in headless
Chromium: MT19937 seeding from any integer, random() and choices() are CPython's, bit for
bit, so the page draws the names the package draws."""
import math
import random

import pytest

from js_page import js, page  # noqa: F401 (page: the fixture)

pytestmark = pytest.mark.browser


SEEDS = [0, 1, 42, -42, 2 ** 32, 2 ** 32 - 1, 2 ** 64 + 12345, 2 ** 70, -(2 ** 70) - 3, 123456789012345678901234567890]


def test_random_matches_cpython(page):
    got = js(page, "return arg.map(s => { const r = new E.PyRandom(BigInt(s));"
                   " return Array.from({length: 1000}, () => r.random()); });", [str(s) for s in SEEDS])
    for seed, values in zip(SEEDS, got):
        r = random.Random(seed)
        assert values == [r.random() for _ in range(1000)], seed
    # the check values of the research note, and Number seeds
    assert js(page, "return [0, 1, 42, -42, 2 ** 32].map(s => { const r = new E.PyRandom(s);"
                    " return [r.random(), r.random()]; });") == [
        [0.8444218515250481, 0.7579544029403025], [0.13436424411240122, 0.8474337369372327],
        [0.6394267984578837, 0.025010755222666936], [0.6394267984578837, 0.025010755222666936],
        [0.11299430095636409, 0.41782886486292836]]
    assert js(page, "return new E.PyRandom(42).choices([.1, .2, .3, .2, .2], 5);") == [3, 0, 1, 1, 3]


def test_choices_match_cpython(page):
    gen = random.Random(7)
    cases = []
    for i in range(400):
        n = gen.choice([1, 2, 3, 5, 8, 27, 64, gen.randint(1, 200)])
        kind = i % 4
        if kind == 0:    # probabilities, as the samplers pass them
            w = [gen.random() for _ in range(n)]
            w = [x / sum(w) for x in w]
        elif kind == 1:  # wildly different magnitudes, exact zeros
            w = [0.0 if gen.random() < 0.3 else gen.random() * 10.0 ** gen.randint(-30, 30) for _ in range(n)]
            w[gen.randrange(n)] = gen.random() + 1e-3
        elif kind == 2:  # peaked softmax-like
            w = [math.exp(-gen.expovariate(0.05)) for _ in range(n)]
        else:            # integers
            w = [gen.randint(0, 5) for _ in range(n - 1)] + [gen.randint(1, 5)]
        cases.append({'seed': str(gen.getrandbits(gen.choice([8, 32, 80])) * gen.choice([1, -1])), 'w': w})
    got = js(page, "return arg.map(({seed, w}) => { const r = new E.PyRandom(seed);"
                   " return [...r.choices(w, 30), ...Array.from({length: 20}, () => r.choice(w))]; });", cases)
    for case, draws in zip(cases, got):
        r = random.Random(int(case['seed']))
        w = case['w']
        want = r.choices(range(len(w)), weights=w, k=30) + [r.choices(range(len(w)), weights=w)[0] for _ in range(20)]
        assert draws == want, case
