"""The reference's phase-2 schedule, shared by both engines: which names each step trains on."""


def phase2_docs(docs, step, n_streams):
    """The documents of phase-2 step `step`: consecutive names, as in the reference."""
    return [docs[(step * n_streams + i) % len(docs)] for i in range(n_streams)]
