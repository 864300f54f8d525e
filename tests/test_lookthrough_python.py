"""The look-through's Python side (microdnb.page.lookthrough), no browser: its numpy trace is
the scalar engine's forward pass (attention, logits, and the residual stream's size at every
stage, read from what the scalar model's rmsnorm is given), its output is deterministic,
self-contained and small, and bad input is a one-line ValueError naming the field and what
it allows. (The page, engine.js's trace against this one: test_lookthrough_page.py.)"""
from __future__ import annotations

import base64
import json
import math
import random

import numpy as np
import pytest

from microdnb import scalar, vector
from microdnb.config import ModelConfig
from microdnb.data import Tokenizer
from microdnb.params import SNC_KEYS, base_keys
from microdnb.page import lookthrough as lt
from microdnb.scalar import model as scalar_model

TOK = Tokenizer('abcdefghijklmnopqrstuvwxyz')


@pytest.fixture(scope='module')
def two_models():
    """The reference shape (1 layer, 4 heads) and a 2-layer, 2-head one with block_size 10."""
    out = []
    for seed, cfg in ((3, ModelConfig(vocab_size=27, init_std=0.3)),
                      (4, ModelConfig(vocab_size=27, n_layer=2, n_embd=8, n_head=2, block_size=10, notes_dim=4, init_std=0.4))):
        out.append((vector.init_params(cfg, random.Random(seed)), cfg))
    return out


def scalar_trace(params, cfg, name, monkeypatch):
    """Per position: the scalar engine's attention, logits, and |x| at each stage: the inputs its
    rmsnorm receives (the embedding sum, then per layer the residual entering attention and
    entering the MLP), then the hidden state it returns."""
    seen = []
    real = scalar_model.rmsnorm
    monkeypatch.setattr(scalar_model, 'rmsnorm', lambda x: seen.append(math.sqrt(sum(v.data ** 2 for v in x))) or real(x))
    sd = scalar.params_from(params)
    keys, values = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
    out = []
    for pos, token in enumerate([TOK.BOS] + [TOK.uchars.index(c) for c in name]):
        seen.clear()
        record = {}
        logits, hidden = scalar_model.gpt(sd, cfg, token, pos, keys, values, record=record)
        sizes = seen + [math.sqrt(sum(v.data ** 2 for v in hidden))]
        # stages: embed, norm (= entering layer 0), then per layer attn (entering the MLP), mlp
        resid = [('embed', -1, sizes[0]), ('norm', -1, sizes[1])]
        for li in range(cfg.n_layer):
            resid += [('attn', li, sizes[2 + 2 * li]), ('mlp', li, sizes[3 + 2 * li])]
        out.append({'attn': record['attn'], 'logits': [v.data for v in logits], 'resid': resid})
    return out


@pytest.mark.parametrize('i', [0, 1])
@pytest.mark.parametrize('name', ['', 'a', 'isabella', 'zzyzx'])
def test_numpy_trace_is_the_scalar_forward_pass(two_models, monkeypatch, i, name):
    params, cfg = two_models[i]
    got, want = lt.trace(params, cfg, TOK, name), scalar_trace(params, cfg, name, monkeypatch)
    assert got['tokens'] == [TOK.BOS] + [TOK.uchars.index(c) for c in name] and len(got['positions']) == len(want)
    for p, (g, w) in enumerate(zip(got['positions'], want)):
        assert g['pos'] == p and g['next'] == (got['tokens'] + [TOK.BOS])[p + 1]
        np.testing.assert_allclose(np.array(g['attn']), np.array(w['attn']), rtol=0, atol=1e-12)
        np.testing.assert_allclose(g['logits'], w['logits'], rtol=1e-10, atol=1e-12)
        assert [r[:2] for r in g['resid']] == [list(r[:2]) for r in w['resid']]
        np.testing.assert_allclose([r[2] for r in g['resid']], [r[2] for r in w['resid']], rtol=1e-12)
        assert abs(sum(g['probs']) - 1) < 1e-12 and np.argmax(g['probs']) == np.argmax(g['logits'])
    # RMSNorm sets |x| to sqrt(n_embd) (up to its 1e-5): the stage the view's note explains
    assert all(abs(p['resid'][1][2] - math.sqrt(cfg.n_embd)) < 1e-3 for p in got['positions'])


def test_output_is_deterministic_self_contained_and_small(two_models):
    params, cfg = two_models[0]
    v = lt.lookthrough(params, cfg, TOK, 'emma', title='Look <inside>')
    assert v.html == lt.lookthrough(params, cfg, TOK, 'emma', title='Look <inside>').html
    assert v.pos == 4 and v.name == 'emma' and "'emma' at position 4" in repr(v)
    assert len(v.html.encode()) < 130_000 and 'Look &lt;inside&gt;' in v.html
    assert v.html.count('<script type="module">') == 1 and 'http' not in v.html.split('<script type="module">')[1]
    assert '.microdnb-explorer' not in v.html and '.microdnb-lookthrough' in v.html   # CSS scoped to its own root
    bundle = v._repr_mimebundle_()
    assert set(bundle) == {'text/html', 'text/plain'}
    # the trunk's weights only, bit for bit; the notes bus's left out (the page fills them with zeros)
    data = json.loads(v.html.split('class="mdx-data">')[1].split('</script>')[0])
    assert [z[0] for z in data['zeros']] == list(SNC_KEYS) and [m[0] for m in data['layout']] == base_keys(cfg)
    carried = np.frombuffer(base64.b64decode(data['params']), dtype='<f8')
    assert carried.tobytes() == np.concatenate([params[k].ravel() for k in base_keys(cfg)]).tobytes()
    # the fallback: every position's letter and the model's top guess, from the numpy trace
    top = [max(range(27), key=p['probs'].__getitem__) for p in v.trace['positions']]
    fallback = v.html.split('class="mdx-fallback"')[1].split('<script type="module">')[0]
    assert fallback.count('<li>') == 5 and all(f'top guess <b>{TOK.labels[t]}</b>' in fallback for t in top)


@pytest.mark.parametrize('change, match', [
    ({'name': 5}, r"name must be a string of the letters 'abcdefghijklmnopqrstuvwxyz', got int"),
    ({'name': ['e', 'm']}, r"name must be a string of the letters 'abcdefghijklmnopqrstuvwxyz', got list"),
    ({'name': 'Emma'}, r"name has the character 'E', which is not in the vocabulary 'abcdefghijklmnopqrstuvwxyz'"),
    ({'name': 'a' * 16}, r"name has 16 characters; it must be shorter than block_size \(16\): at most 15"),
    ({'pos': 5}, r"pos must be an integer in \[0, 4\] \(a position of BOS \+ 'emma'\), got 5"),
    ({'pos': -1}, r"pos must be an integer in \[0, 4\]"),
    ({'pos': True}, r"pos must be an integer in \[0, 4\]"),
    ({'pos': 1.0}, r"pos must be an integer in \[0, 4\]"),
    ({'title': 3}, r"title must be a string or None, got int"),
    ({'tokenizer': Tokenizer('abc')}, r"the tokenizer has 4 tokens but cfg.vocab_size is 27"),
    ({'params': {'wte': np.zeros((27, 16))}}, r"lookthrough: params .*missing"),
])
def test_bad_input_is_a_one_line_value_error(two_models, change, match):
    params, cfg = two_models[0]
    args = {'params': params, 'cfg': cfg, 'tokenizer': TOK, 'name': 'emma', **change}
    with pytest.raises(ValueError, match=match) as e:
        lt.lookthrough(args.pop('params'), args.pop('cfg'), args.pop('tokenizer'), **args)
    assert '\n' not in str(e.value) and str(e.value).startswith('lookthrough')
