"""The study: coordination tasks, one vocabulary of control conditions, measurements and the experiments of part III.

  tasks      what the streams of a group are asked to write (independent, split, copy)
  controls   the control conditions, written once: names, meanings, notes hooks, decoding under one
  measure    part II's measurements: bus bookkeeping, how far Adam moves the gate, held-out loss
  spec       the experiments' Settings, the typed RunSpec of one phase-2 run, and the plan of runs
  metrics    what a run measures: loss under a condition, SNC's output, the sampled task metric
  runs       one seed's trunk and runs, and `run`, the whole experiment (in several processes)
  results    the results file: provenance, save and load (checked), select, mean and spread
  oracle     a counting model of the split task: what the notes could be worth
"""
