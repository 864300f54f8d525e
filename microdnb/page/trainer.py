"""The trainer: the reader presses Train and watches the model learn, in the page.

``trainer(kind, reference, ...)`` returns a `Trainer`, which a notebook shows as one
self-contained ``text/html`` output, built as the explorer's is (explorer.py): a root
``<div class="microdnb-trainer" data-microdnb-trainer="ID">`` holding its CSS (the explorer's
rules, scoped to this root, and trainer.css), its payload as JSON and a static fallback, then
one inline ``<script type="module">`` with the modules of MODULES ending in ``mount("ID")``.

The payload: the controls the chapter offers (KINDS: chapter 4's phase 1, chapter 9's phase 2
over the bus, chapter 13's copy task from a closed or an open gate), each with its extent
within config.LIMITS; the settings the controls start at (checked here); the run the chapter
computed in Python (`reference`: its loss per step, and its gate per step in phase 2), drawn
under the reader's; and what train.js needs to train (its `spec` payload: the names, gzipped).

In the page, ``window.microdnb.trainers`` lists the trainers (see the top of trainer.js):
``replicate({seed, steps, sncSteps})`` and ``train(settings)``.

Typical use in a chapter::

    from microdnb.page.trainer import trainer
    trainer('phase1', {'loss': losses}, title="Train it yourself")
"""
from __future__ import annotations

import html
import math

from ..config import LIMITS, Range
from .inline import page_output, view_stylesheet
from .training import MODULES as TRAINING_MODULES, SETTINGS, train_payload

__all__ = ['KINDS', 'Trainer', 'trainer']

# the trainer's ES modules, each importing only from those before it: training.py's (worker.js
# builds the training worker from them), then the page's
MODULES = (*TRAINING_MODULES, 'payload.js', 'text.js', 'trainer_markup.js', 'trainer_view.js', 'trainer.js')


def _control(k, label, kind, low, high, step, widget='range', hint=''):
    """A control's descriptor for the page (k: train.js's name of the setting), its extent
    inside config.LIMITS (training.SETTINGS names its entry)."""
    allowed = LIMITS[SETTINGS[k]]
    allowed.check(low, f"trainer control {k}")
    allowed.check(high, f"trainer control {k}")
    return {'k': k, 'label': label, 'type': widget, 'kind': kind, 'min': low, 'max': high, 'step': step, 'hint': hint}


SEED = _control('seed', 'Seed', 'int', 0, 2 ** 32 - 1, 1, 'number', 'shuffles the names and draws the initial weights')
# What each chapter's trainer offers: its controls (train.js's settings), their defaults (the
# chapter's), the settings fixed for it (the rest are the reference's: training.default_settings),
# the phase its curve shows and the settings whose sum is its steps, the samples after a run
KINDS = {
    'phase1': {
        'lead': 'The whole GPT, one name per step, with Adam: press Train and watch the loss fall.',
        'controls': [SEED, _control('steps', 'Steps', 'int', 10, 1000, 10, hint='names to train on, one per step'),
                     _control('learningRate', 'Learning rate', 'float', 0.001, 0.05, 0.001,
                              hint='at the first step; it decays linearly to 0')],
        'defaults': {'seed': 42, 'steps': 1000, 'learningRate': 0.01},
        'fixed': {'sncSteps': 0},
        'phase': 1,
        'count': ['steps'],
        'samples': {'kind': 'single', 'count': 10, 'every': 100,
                    'label': 'ten names (temperature 0.5, seeds 0 to 9)'},
    },
    'phase2': {
        'lead': 'The trunk first (phase 1), then SNC, the planner and the gate over the bus, the trunk frozen.',
        'controls': [_control('cadence', 'Cadence', 'int', 1, 8, 1, hint='a stream posts a note every this many positions'),
                     _control('lag', 'Lag', 'int', 0, 2, 1, hint='rounds before a posted note is readable'),
                     _control('streams', 'Streams', 'int', 2, 4, 1, hint='names trained together per step'),
                     _control('gateInit', 'Gate start (logit)', 'float', -8.0, 2.0, 0.5,
                              hint='the gate starts at sigmoid of this: -5 gives 0.0067')],
        'defaults': {'cadence': 3, 'lag': 0, 'streams': 2, 'gateInit': -5.0},
        'fixed': {},
        'phase': 2,
        'count': ['sncSteps'],
        'samples': {'kind': 'parallel', 'count': 5, 'streams': 3,
                    'label': 'five groups of three names decoded in parallel (temperature 0.5, seeds 0 to 4)'},
    },
    'copy': {
        'lead': 'Both streams write one name, the leader given its first letter: the trunk first, then phase 2.',
        'controls': [_control('gateInit', 'Gate start', 'float', -5.0, 0.0, None, 'select',
                              'its logit: -5 or 0'),
                     _control('sncSteps', 'Steps', 'int', 100, 2000, 100, hint='phase-2 steps (the chapter: 2000)')],
        'defaults': {'gateInit': -5.0, 'sncSteps': 2000},
        'fixed': {'seed': 0, 'task': 'copy', 'sncLearningRate': 0.01, 'streams': 2, 'cadence': 1, 'lag': 0},
        'phase': 2,
        'count': ['sncSteps'],
        'reference_by': 'gateInit',   # one chapter's run per gate start
        'samples': {'kind': 'parallel', 'count': 5, 'streams': 2,
                    'label': 'five pairs decoded in parallel (temperature 0.5, seeds 0 to 4)'},
    },
}
KINDS['copy']['controls'][0]['options'] = [[-5.0, 'closed (gate 0.0067)'], [0.0, 'open (gate 0.5)']]


def _said(value, run, spec):
    """One of the chapter's runs in words (the fallback, and the Trainer's repr)."""
    start = '' if value is None else f"from {spec['reference_by']} {value:g}, "
    gate = f", its gate from {run['gate'][0]:.4f} to {run['gate'][-1]:.4f}" if 'gate' in run else ''
    return (f"The chapter's run {start}{len(run['loss'])} steps: the loss {run['loss'][0]:.4f} at the first, "
            f"{run['loss'][-1]:.4f} at the last{gate}.")


class Trainer:
    """One trainer, ready to display: ``html`` (the text/html output), ``kind``, ``settings``
    (the controls' initial values, checked), ``reference`` (the chapter's runs, [[value, run], ...])."""

    def __init__(self, html_text, title, kind, settings, reference):
        self.html, self.title, self.kind, self.settings, self.reference = html_text, title, kind, settings, reference

    def __repr__(self):
        shown = ', '.join(f'{k} {v:g}' for k, v in self.settings.items())
        runs = ' '.join(_said(v, run, KINDS[self.kind]) for v, run in self.reference)
        return f"<trainer {self.title!r}: {self.kind}, {shown}. {runs}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {'text/html': self.html, 'text/plain': repr(self)}

    def _repr_html_(self):
        return self.html


# significant digits the page gets of the chapter's runs: a curve a few hundred pixels high
# needs four; six keep each number within 5e-6 of the chapter's (and a page light: chapter
# 13's two runs of 2,000 steps take 64 kB instead of 144 kB)
DIGITS = 6


def _check_series(values, what, low=None, high=None):
    """A list of finite floats (low <= v <= high), at least one, rounded to DIGITS significant digits."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, '__iter__'):
        raise ValueError(f"trainer: {what} must be a list of numbers, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, '__float__'):
            raise ValueError(f"trainer: {what}[{i}] must be a number, got {v!r:.40}")
        v = float(v)
        if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
            raise ValueError(f"trainer: {what}[{i}] must be a finite number in [{low}, {high}], got {v!r}")
        out.append(float(f'{v:.{DIGITS}g}'))
    if not out:
        raise ValueError(f"trainer: {what} is empty")
    return out


def _check_run(run, kind, where='reference'):
    """One run of the chapter's: {'loss': [...]} (phase 1), with 'gate': [...] of the same length in phase 2."""
    if not isinstance(run, dict):
        raise ValueError(f"trainer: {where} must be a dict with 'loss' (and 'gate' in phase 2), got {type(run).__name__}")
    wanted = {'loss'} if kind == 'phase1' else {'loss', 'gate'}
    if set(run) != wanted:
        raise ValueError(f"trainer: {where} for {kind!r} must have exactly the keys {sorted(wanted)}, got {sorted(run)}")
    out = {'loss': _check_series(run['loss'], f'{where} loss', 0.0, None)}
    if 'gate' in wanted:
        out['gate'] = _check_series(run['gate'], f'{where} gate', 0.0, 1.0)
        if len(out['gate']) != len(out['loss']):
            raise ValueError(f"trainer: {where} gate has {len(out['gate'])} values for {len(out['loss'])} losses")
    return out


def _check_reference(reference, kind):
    """The chapter's runs as [[value, run], ...]: one run (value None), or, where KINDS[kind]
    has 'reference_by' (the copy task's gateInit), a dict {each option's value: its run}."""
    by = KINDS[kind].get('reference_by')
    if by is None:
        return [[None, _check_run(reference, kind)]]
    options = [v for v, _ in next(c for c in KINDS[kind]['controls'] if c['k'] == by)['options']]
    def value(k):
        return float(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else k
    if not isinstance(reference, dict) or sorted(map(str, map(value, reference))) != sorted(map(str, options)):
        got = sorted(map(str, reference)) if isinstance(reference, dict) else type(reference).__name__
        raise ValueError(f"trainer: reference for {kind!r} must be a dict with one run per {by} in "
                         f"{', '.join(map(str, options))}, got {got}")
    return [[v, _check_run(reference[next(k for k in reference if value(k) == v)], kind, f'reference[{v:g}]')]
            for v in options]


def _check_settings(settings, kind):
    """The controls' initial values: KINDS' defaults, changed by `settings`, each within its control."""
    spec = KINDS[kind]
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ValueError(f"trainer: settings must be a dict or None, got {type(settings).__name__}")
    controls = {c['k']: c for c in spec['controls']}
    unknown = sorted(set(settings) - set(controls))
    if unknown:
        raise ValueError(f"trainer: unknown setting(s) {', '.join(map(repr, unknown))} for {kind!r}; "
                         f"the settings are {', '.join(controls)}")
    s = {**spec['defaults'], **settings}
    for k, c in controls.items():
        if c['type'] == 'select':
            values = [v for v, _ in c['options']]
            if s[k] not in values:
                raise ValueError(f"trainer: settings {k} must be one of {', '.join(map(str, values))}, got {s[k]!r}")
            s[k] = float(s[k]) if c['kind'] == 'float' else s[k]
        else:
            s[k] = Range(c['kind'], c['min'], c['max']).check(s[k], f"trainer: settings {k}")
    return s


def trainer(kind, reference, *, title=None, settings=None, explore=False):
    """A trainer of `kind` (a key of KINDS: 'phase1', 'phase2' or 'copy').

    reference: the run the chapter computed in Python, drawn under the reader's: {'loss':
    per-step losses} in phase 1, and {'loss': ..., 'gate': per-step gate} in phase 2; for
    'copy', one such run per gate start, {-5.0: run, 0.0: run}. Each is what the page computes
    with the chapter's settings (KINDS[kind]'s defaults and fixed settings over
    training.default_settings), so the two curves lie on each other.
    settings: the controls' initial values (KINDS[kind]'s controls; default the reference's).
    explore: offer "Explore what you trained" (the page has an explorer of this model's shape).
    Returns a `Trainer` (display it, or take `.html`). Anything that does not fit is a one-line
    ValueError naming it.
    """
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"trainer: kind must be one of {', '.join(KINDS)}, got {kind!r:.40}")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"trainer: title must be a string or None, got {type(title).__name__}")
    if not isinstance(explore, bool):
        raise ValueError(f"trainer: explore must be True or False, got {explore!r:.40}")
    spec = KINDS[kind]
    title = ' '.join((title or 'Train it yourself').split())
    ref = _check_reference(reference, kind)
    s = _check_settings(settings, kind)
    payload = {'title': title, 'lead': spec['lead'], 'controls': spec['controls'], 'settings': s, 'fixed': spec['fixed'],
               'phase': spec['phase'], 'count': spec['count'], 'samples': spec['samples'],
               'reference': {'by': spec.get('reference_by'), 'runs': ref}, 'explore': explore, 'file': kind,
               'train': train_payload()}
    fallback = (f'<div class="mdx-fallback"><p><strong>{html.escape(title)}</strong></p>'
                f'<p>This trainer trains the model in the page and needs JavaScript (in Jupyter: run the cell, or '
                f'trust the notebook).</p>' + ''.join(f'<p>{html.escape(_said(v, run, spec))}</p>' for v, run in ref)
                + '</div>')
    page = page_output('trainer', title, payload, MODULES, view_stylesheet('trainer', 'trainer.css'), fallback)
    return Trainer(page, title, kind, s, ref)
