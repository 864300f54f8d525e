"""The planner seed: snapshot 0 of a stream's bus, before any token has been written."""
from .layers import linear
from .model import gpt


def plan_seed(state_dict, cfg, token_id):
    """Run `token_id` at position 0 through the trunk (no SNC) and project its hidden state.

    In the reference every stream starts from BOS, so this is the same vector for
    every stream of every example: a learned constant, not a plan.
    """
    keys_tmp = [[] for _ in range(cfg.n_layer)]
    values_tmp = [[] for _ in range(cfg.n_layer)]
    _, hidden = gpt(state_dict, cfg, token_id, 0, keys_tmp, values_tmp)
    return linear(hidden, state_dict['planner_proj'])
