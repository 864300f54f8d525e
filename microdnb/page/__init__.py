"""The page: the model running in the reader's browser, emitted by Python as one notebook output.

  explorer.py        `explorer(...)`: a model as a self-contained text/html output (controls,
                     views, a static fallback), the same bytes on the static site and in JupyterLab
  lookthrough.py     `lookthrough(...)`: one forward pass of the trunk opened up, emitted the same way
  inline.py          the ES modules joined into one inline script, without a bundler; one view as
                     one output (page_output)
  pyrandom.js        CPython's random.Random (MT19937, random(), choices), bit for bit
  settings.js        a decode's settings checked (checkNumber: the one checker), engine.js re-exports them
  engine.js          inference as the numpy engine does it, one position at a time (forward takes
                     an optional trace hook); checkpoints in (loadCheckpoint) and out (checkpointText)
  payload.js         what the views share: the model from a payload, the page's registry
  text.js            how the views write tokens, percentages and sizes
  explorer_views.js  the views: pure functions from a decode to HTML
  explorer_state.js  the explorer's settings, every value checked in one place
  explorer_markup.js the controls and the views' sections, as HTML
  explorer_render.js from the state to the page: decode, controls, views
  explorer.js        mount(): an explorer in its output, and the page's entry point
  lookthrough.js     the look-through: a name's forward pass, position by position (trace, mount)
  view.css           the styles the views share; explorer.css, lookthrough.css each view's own
  grad.js            the GPT on flat arrays, one position at a time, with its backward (training)
  tasks.js           Part III's coordination tasks (study/tasks.py), drawn as Python draws them
  spec.js            the trainer's payload unpacked (specFrom), a run's settings checked
  train.js           Adam, the two phases, Trainer and replicate: the reference run in the page
  worker.js          runTrainer: training in a classic Web Worker made from the inline output
  training.py        `train_payload(...)`: the trainer's payload (names packed, limits, defaults)
  trainer.py         `trainer(...)`: Train in the page (chapters 4, 9, 13), a self-contained
                     text/html output like the explorer's, with the chapter's run to compare
  trainer_markup.js  the trainer's controls, buttons, canvas and numbers, as HTML
  trainer_view.js    the live loss (and gate) curve on a canvas, its numbers and text alternative
  trainer.js         mount(): a trainer in its output, wired to train.js's worker; its entry point
  trainer.css        the trainer's own styles (the explorer's rules, rescoped, do the rest)

The JavaScript is package data beside the Python that emits it (pyproject.toml lists it);
tests/test_js_engine.py proves engine.js equal to the numpy engine in Chromium, and
tests/test_js_train.py the trainer's gradients, losses and replicate's lines.
"""
