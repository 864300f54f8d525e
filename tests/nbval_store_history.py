"""pytest plugin, loaded by `make test` (`-p tests.nbval_store_history`): nbval runs each
cell with store_history=True, as Jupyter and jupyter-book do.

nbval 0.11 executes cells with store_history=False. IPython decides whether a trailing
`;` silences a cell's value by looking at the last cell *in the history*, so under nbval
`fig = plot(...);` or `ax.plot(...);` is not silenced: the fresh run shows an extra
`[<matplotlib.lines.Line2D ...>]` or `<Figure ...>` that the stored notebook does not
have, and nbval reports "Cell outputs differ". Storing history fixes exactly that.
"""


def pytest_configure(config):
    try:
        from nbval.kernel import RunningKernel
    except ImportError:  # nbval not installed: nothing to patch
        return
    if getattr(RunningKernel.execute_cell_input, "_stores_history", False):
        return

    def execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                               stop_on_error=False)

    execute_cell_input._stores_history = True
    RunningKernel.execute_cell_input = execute_cell_input
