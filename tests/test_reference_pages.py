"""The book's reference pages say what the code and the reference script say: every line
of the reference script that book/references.md cites holds what the page says it holds
(the script is ../shared/reference/microgpt_dnb.py: the test is marked `reference`), and
the glossary's table of control conditions is study.controls' own."""
import re
from pathlib import Path

import pytest

# (book/references.md and book/glossary.md: what they cite must be true of the sources)

BOOK = Path(__file__).resolve().parents[1] / 'book'
# every line range book/references.md cites, and text those lines of the reference script hold
CITED = {
    'L21': 'random.seed(42)', 'L28–30': 'random.shuffle(docs)', 'L32–34': 'BOS = len(uchars)',
    'L37–78': 'def backward', 'L80–98': 'base_params', 'L100–109': "[[Value(-5.0)]]",
    'L113–114': 'def linear', 'L115–119': 'def softmax', 'L120–123': 'def rmsnorm', 'L124–126': 'def sigmoid',
    'L184–194': 'softmax(attn_logits)', 'L127–156': 'def snc_cross_attention', 'L157–165': 'def plan_seed',
    'L166–209': 'return logits, x', 'L197–200': 'snc_cross_attention(x, notes)',
    'L214': 'beta1, beta2, eps_adam', 'L218–244': 'for step in range(num_steps):',
    'L232': 'lr_t = learning_rate', 'L233–239': 'm_base[i] = beta1', 'L249–250': 'n_streams_train = 2',
    'L256–261': 'docs[(step * 2) % len(docs)]', 'L267–269': 'plan_seed(streams[si][0])',
    'L279–283': 'other_notes.extend(buses[oi])', 'L290–292': "state_dict['notes_proj']",
    'L254–309': 'for step in range(num_steps_p2):', 'L296': 'lr_t = 0.005', 'L297–303': 'm_snc[i] = beta1',
    'L313–326': 'temperature = 0.5', 'L330–369': 'n_streams = 3', 'L337–339': 'plan_seed(BOS)',
    'L357–359': 'stream_done[si] = True', 'L363–365': "state_dict['notes_proj']", 'L370–371': 'final gate value',
}


@pytest.mark.reference
def test_references_cite_the_right_lines():
    from reference_runner import reference_dir
    lines = (reference_dir() / 'microgpt_dnb.py').read_text().splitlines()
    page = (BOOK / 'references.md').read_text()
    cited = set(re.findall(r'\bL\d+(?:–\d+)?', page))
    assert cited == set(CITED), f"unchecked or stale citations: {sorted(cited ^ set(CITED))}"
    for where, text in CITED.items():
        first, _, last = where[1:].partition('–')
        held = '\n'.join(lines[int(first) - 1:int(last or first)])
        assert text in held, f"{where} of the reference script does not hold {text!r}"


def test_glossary_names_the_control_conditions_exactly():
    from microdnb.study import controls
    page = (BOOK / 'glossary.md').read_text()
    rows = re.findall(r'^\| `([a-z_]+)` \| (.+) \|$', page, flags=re.M)
    assert [name for name, _ in rows] == list(controls.CONDITIONS)
    for name, text in rows:
        assert text == controls.DESCRIPTIONS[name], name
    for name in controls.TRAININGS:
        assert f'`{name}`' in page.split('## Control conditions')[1]
