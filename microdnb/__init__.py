"""microdnb: a tiny GPT and the Dynamic Notes Bus, from scratch.

The package is layered; a layer imports only from the layers above it in this list
(tests/test_layers.py enforces it):

Foundations
  config       settings as checked dataclasses, the validators, the reference's bus
  data         the names dataset shipped in the package, the character tokenizer, and
               which names each phase-2 step of the reference trains on
  bus          the Notes Bus's rules: when a stream posts, what a reader may read
  params       the parameter layout both engines and checkpoints share
  sampling     what a sampler needs, and the reference's one random draw per token
  checkpoint   parameters + configs + vocabulary as strict JSON, checked on load
  fileio       writing files so that nothing is lost, and checking output paths
Engines (same functions in both; neither imports the other)
  scalar/      microgpt's engine on `Value`s, line for line with the reference (no numpy)
  vector/      the same math on float64 numpy arrays with a hand-written backward
Reference
  reference    the reference script's set-up and run, written once; `replicate`
Study
  study/       coordination tasks, one vocabulary of controls, measurements, experiments
Figures and the page
  figures/     how a figure is shown, and what is drawn, one concept per module
  page/        the model in the reader's browser: the explorer, its JavaScript beside it
               (its stream colours are figures.style's)
Command line
  __main__     python -m microdnb {replicate,train,sample,experiment}
"""

__version__ = "0.2.0"
