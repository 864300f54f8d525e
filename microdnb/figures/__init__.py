"""Everything the reader sees drawn, one concept per module.

How a figure is shown (used by all the others):
  display     a figure with its alternative text: on the page, in JupyterLab, in a widget frame
  style       the column width and the one colour-blind-safe palette
  words       the wording helpers of alternative text
  prep        a figure's inputs as arrays, with one-line errors
  source      the package's own source, excerpted, in a chapter
  tables      result tables, as compact HTML and as text
  widgets     kernel-free scrubbers: precomputed frames behind a slider

What is drawn (each function returns a Figure whose `microdnb_alt` describes it):
  dataset          the names: lengths, character frequencies
  graph            a scalar `Value`'s computation graph, with its gradients
  transformer      inside the GPT: a matrix, the embeddings, attention, a next-token distribution
  training         loss, learning rate and gate per step; the two engines' times
  decoding         sampling at a temperature; one parallel decode round by round
  notes_bus        the Notes Bus: who posts when, which notes each stream reads
  cross_attention  SNC: its attention over the notes, the model at one gate, the loss gained
  experiments      part III's results: tables and figures of a results file
  conditions       the losses under the control conditions, name by name (a live slice)
  diagrams         the mechanisms as diagrams (with diagrams_draw, diagrams_worked)
"""
