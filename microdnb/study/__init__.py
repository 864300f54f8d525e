"""The study: coordination tasks, one vocabulary of control conditions, measurements and the experiments of part III.

  tasks      what the streams of a group are asked to write (independent, split, copy), re-paired
  controls   the control conditions, written once: names, meanings, notes hooks, losses under one
  measure    part II's measurements: bus bookkeeping, how far Adam moves the gate, held-out loss
  stats      standard errors: of a mean, of a paired difference, clustered by name
  spec       the experiments' Settings, the typed RunSpec of one phase-2 run, and the plan of runs
  metrics    what a run measures: loss under a condition, SNC's output, the sampled task metric
  runs       one seed's trunk, runs and losses per name, and `run`, the whole experiment
  results    the results file: provenance, save and load (checked), select, mean and spread, gains
  oracle     a counting model of the split task: what the notes could be worth
"""
