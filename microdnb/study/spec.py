"""What the experiments run: the settings, a typed spec of one phase-2 run, and the plan.

`Settings` is the whole experiment (seeds, schedules, the main bus setting and the sweeps
around it); `RunSpec` is one phase-2 run of one seed, made only by `run_spec`, which fills
in the main bus setting; `plan_runs` lists a seed's runs in order.
"""
from dataclasses import dataclass, fields, replace

from ..config import ModelConfig, TrainConfig, check_float, check_int, check_temperature
from . import tasks
from .controls import CONDITIONS, TRAININGS, check_condition


# the smallest value of Settings' integers (1 where not listed), and each main bus setting's sweep
_INT_MINIMUM = {'seeds': 0, 'lags': 0, 'lag': 0}
SWEEPS = {'cadence': 'cadences', 'lag': 'lags', 'n_streams': 'streams'}


@dataclass(frozen=True)
class Settings:
    """What `runs.run` does. The defaults are the full run; QUICK is the one-minute version."""
    seeds: tuple = (0, 1, 2)
    trunk_steps: int = 1000            # phase 1, the reference's
    snc_steps: int = 2000              # phase 2, our schedule ...
    snc_learning_rate: float = 0.01
    ref_snc_steps: int = 300           # ... and the reference's
    ref_snc_learning_rate: float = 0.005
    n_heldout: int = 2000              # the last names of the shuffled list: never trained on
    min_heldout_len: int = 4           # held-out names this long can be split into 4 pieces
    n_eval_groups: int = 200
    n_sample_groups: int = 100
    temperature: float = 0.5
    n_streams: int = 2                 # the main bus setting ...
    cadence: int = 1
    lag: int = 0
    cadences: tuple = (1, 2, 3, 6)     # ... and the sweeps around it
    lags: tuple = (0, 1, 2)
    streams: tuple = (2, 3, 4)
    scan_steps: tuple = (4000,)        # copy task, main setting: other phase-2 lengths (our lr) ...
    scan_learning_rates: tuple = (0.02,)  # ... other learning rates (our length) ...
    gate_inits: tuple = (0.0,)         # ... and other initial gate logits (our schedule)
    gate_every: int = 10               # record the gate every this many phase-2 steps

    def __post_init__(self):
        for f in fields(self):
            name, value = f.name, getattr(self, f.name)
            where = f"Settings.{name}"
            if f.type is tuple:
                if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
                    raise ValueError(f"{where} must be a list, got {value!r}")
                value = tuple(value)
                if name in ('scan_learning_rates', 'gate_inits'):
                    positive = name == 'scan_learning_rates'
                    value = tuple(check_float(v, where, 0.0 if positive else None, min_open=positive)
                                  for v in value)
                else:
                    value = tuple(check_int(v, where, _INT_MINIMUM.get(name, 1)) for v in value)
                    if name != 'scan_steps' and not value:  # the scans may be empty, the sweeps not
                        raise ValueError(f"{where} must be a non-empty list, got {value!r}")
                    if len(set(value)) != len(value):
                        raise ValueError(f"{where} has repeated values: {value!r}")
            elif name == 'temperature':
                value = check_temperature(value, where)
            elif f.type is float:
                value = check_float(value, where, 0.0, min_open=True)
            else:
                value = check_int(value, where, _INT_MINIMUM.get(name, 1))
            object.__setattr__(self, name, value)
        if self.min_heldout_len < max(self.streams):
            raise ValueError(f"Settings.min_heldout_len ({self.min_heldout_len}) must be >= the largest "
                             f"number of streams ({max(self.streams)}), or the split task cannot use the names")
        for name, sweep in SWEEPS.items():
            if getattr(self, name) not in getattr(self, sweep):
                raise ValueError(f"Settings.{name}={getattr(self, name)} must be one of the swept "
                                 f"values {getattr(self, sweep)}")


QUICK = Settings(seeds=(0,), snc_steps=300, n_eval_groups=40, n_sample_groups=16,
                 scan_steps=(), scan_learning_rates=(), gate_inits=(),
                 cadences=(1, 3), lags=(0, 1), streams=(2, 3))


# ---------------------------------------------------------------- phase-2 schedules

def schedule_name(steps, learning_rate):
    """How a scanned schedule is named: '4000@0.01' (phase-2 steps @ initial learning rate)."""
    return f"{steps}@{learning_rate:g}"


def train_config(settings, schedule):
    """The TrainConfig of a phase-2 schedule: 'ours', 'reference', or 'STEPS@LR' (see schedule_name)."""
    if isinstance(schedule, str) and '@' in schedule:
        steps, lr = schedule.split('@', 1)
        try:
            return TrainConfig(steps=settings.trunk_steps, snc_steps=int(steps), snc_learning_rate=float(lr))
        except ValueError:
            raise ValueError(f"schedule {schedule!r} is not STEPS@LEARNING_RATE, e.g. '4000@0.01'") from None
    if schedule == 'ours':
        return TrainConfig(steps=settings.trunk_steps, snc_steps=settings.snc_steps,
                           snc_learning_rate=settings.snc_learning_rate)
    if schedule == 'reference':
        return TrainConfig(steps=settings.trunk_steps, snc_steps=settings.ref_snc_steps,
                           snc_learning_rate=settings.ref_snc_learning_rate)
    raise ValueError(f"schedule must be 'ours', 'reference' or 'STEPS@LR', got {schedule!r}")


# ---------------------------------------------------------------- one run

@dataclass(frozen=True)
class RunSpec:
    """One phase-2 run of a seed: the task, the bus, the schedule, what phase 2 trains
    under (controls.TRAININGS), the conditions measured after it, whether groups are
    sampled for the task metric, and the initial gate logit (None: the model's own).
    Make it with `run_spec`."""
    task: str
    n_streams: int
    cadence: int
    lag: int
    schedule: str = 'ours'
    train: str = 'notes'
    evals: tuple = ('notes', 'trunk', 'shuffled')
    sample: bool = False
    gate_init: float | None = None

    def __post_init__(self):
        if self.task not in tasks.TASKS:
            raise ValueError(f"RunSpec.task must be one of {tasks.TASKS}, got {self.task!r}")
        check_int(self.n_streams, 'RunSpec.n_streams', 1)
        check_int(self.cadence, 'RunSpec.cadence', 1)
        check_int(self.lag, 'RunSpec.lag', 0)
        check_condition(self.train, TRAININGS)
        object.__setattr__(self, 'evals', tuple(check_condition(c) for c in self.evals))
        if not isinstance(self.sample, bool):
            raise ValueError(f"RunSpec.sample must be True or False, got {self.sample!r}")
        if self.gate_init is not None:
            object.__setattr__(self, 'gate_init', check_float(self.gate_init, 'RunSpec.gate_init'))

    @property
    def initial_gate_logit(self):
        return ModelConfig().gate_init if self.gate_init is None else self.gate_init

    def label(self):
        """A short readable name: 'copy k2 c1 l0 ours (trained: repaired)'."""
        return (f"{self.task} k{self.n_streams} c{self.cadence} l{self.lag} {self.schedule}"
                + ('' if self.gate_init is None else f" gate0 {self.gate_init:g}")
                + ('' if self.train == 'notes' else f" (trained: {self.train})"))


def run_spec(settings, task, **changes):
    """A RunSpec of `task` at the main bus setting of `settings`, with `changes` (any RunSpec field)."""
    return replace(RunSpec(task, settings.n_streams, settings.cadence, settings.lag), **changes)


def plan_runs(settings):
    """The phase-2 runs of one seed, in order (RunSpecs).

    Every task at the main bus setting with both schedules (every condition but
    'posts_zeroed', sampled metric); split and copy also with the two trained controls;
    copy swept over cadence, lag and streams, split over streams at lag 0 and at lag 1
    (rounds versus token steps), each one change from the main; copy with other phase-2
    lengths, learning rates and initial gate logits.
    """
    s = settings
    every = tuple(c for c in CONDITIONS if c != 'posts_zeroed')
    runs = []

    def add(task, **changes):
        runs.append(run_spec(s, task, **changes))
    for task in tasks.TASKS:
        add(task, evals=every, sample=True)
        add(task, schedule='reference', evals=every)
    for task in ('split', 'copy'):
        add(task, train='repaired', evals=('notes', 'trunk'))
        add(task, train='plan_only', evals=('plan_only', 'trunk'))
    for c in s.cadences:
        if c != s.cadence:
            add('copy', cadence=c)
    for lag in s.lags:
        if lag != s.lag:
            add('copy', lag=lag)
    for k in s.streams:
        if k != s.n_streams:
            add('split', n_streams=k)
            add('copy', n_streams=k)
    if 1 in s.lags and s.lag != 1:  # split again with the lag that lets a round run as one batch
        for k in s.streams:
            add('split', n_streams=k, lag=1)
    for steps in s.scan_steps:
        add('copy', schedule=schedule_name(steps, s.snc_learning_rate))
    for lr in s.scan_learning_rates:
        add('copy', schedule=schedule_name(s.snc_steps, lr))
    for g in s.gate_inits:
        add('copy', gate_init=g)
    return runs
