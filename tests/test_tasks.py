"""Coordination tasks: what the streams of a group are asked to write (microdnb.study.tasks)."""
import random
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from microdnb.data import Tokenizer
from microdnb.study import tasks

WORDS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'al', 'bo', 'christopher', 'x']


# ------------------------------------------------------------------------- tasks

@given(name=st.text(alphabet='abcdefghijklmnopqrstuvwxyz', min_size=1, max_size=15),
       n_parts=st.integers(1, 6))
def test_split_name_pieces_join_back_and_are_balanced(name, n_parts):
    if len(name) < n_parts:
        with pytest.raises(ValueError, match='at least'):
            tasks.split_name(name, n_parts)
        return
    pieces = tasks.split_name(name, n_parts)
    assert ''.join(pieces) == name
    assert len(pieces) == n_parts and all(pieces)
    sizes = [len(p) for p in pieces]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # earlier pieces take the extra characters


def test_split_name_examples():
    assert tasks.split_name('isabella', 2) == ['isab', 'ella']
    assert tasks.split_name('isabella', 3) == ['isa', 'bel', 'la']
    assert tasks.split_name('ava', 2) == ['av', 'a']


def test_split_groups_are_pieces_of_one_real_name():
    rng = random.Random(0)
    for k in (1, 2, 3, 4):
        groups = tasks.make_groups('split', WORDS, k, 200, rng)
        assert len(groups) == 200
        for g in groups:
            assert len(g) == k
            assert ''.join(g) in WORDS            # the streams write one name together
            assert g == tuple(tasks.split_name(''.join(g), k))
        used = {''.join(g) for g in groups}
        assert used == {w for w in WORDS if len(w) >= k}  # only names long enough, all of them drawn


def test_independent_groups_are_distinct_names():
    groups = tasks.make_groups('independent', WORDS, 3, 300, random.Random(1))
    for g in groups:
        assert len(set(g)) == 3 and set(g) <= set(WORDS)
    # each name is equally likely in each stream: no stream is special
    counts = Counter(g[1] for g in groups)
    assert set(counts) == set(WORDS) and max(counts.values()) < 3 * min(counts.values())


def test_make_groups_is_deterministic_in_its_rng():
    a = tasks.make_groups('split', WORDS, 2, 50, random.Random(7))
    b = tasks.make_groups('split', WORDS, 2, 50, random.Random(7))
    c = tasks.make_groups('split', WORDS, 2, 50, random.Random(8))
    assert a == b and a != c


@pytest.mark.parametrize('args, match', [
    (('nope', WORDS, 2, 1), 'task must be one of'),
    (('split', WORDS, 0, 1), 'n_streams'),
    (('split', WORDS, 2, -1), 'n_groups'),
    (('split', ['a', 'b'], 2, 1), 'at least 2 characters'),
    (('independent', ['ann', 'ann'], 2, 1), 'distinct names'),
])
def test_make_groups_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        tasks.make_groups(*args, random.Random(0))


def test_make_groups_needs_a_seeded_rng():
    with pytest.raises(ValueError, match='random.Random'):
        tasks.make_groups('split', WORDS, 2, 1, 42)


@settings(max_examples=50, deadline=None)
@given(n_groups=st.integers(1, 40), n_streams=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_repair_sources_partners_come_from_different_groups(n_groups, n_streams, seed):
    if n_groups < n_streams:
        with pytest.raises(ValueError):
            tasks.repair_sources(n_groups, n_streams, random.Random(seed))
        return
    sources = tasks.repair_sources(n_groups, n_streams, random.Random(seed))
    assert len(sources) == n_groups
    for src in sources:
        assert len(set(src)) == n_streams           # no two partners from one group
    for s in range(n_streams):                       # every original stream used exactly once
        assert sorted(src[s] for src in sources) == list(range(n_groups))


def test_repair_keeps_roles_and_texts_but_breaks_groups():
    words = ['emma', 'olivia', 'isabella', 'sophia', 'christopher', 'bo']  # no two share a piece
    groups = [tuple(tasks.split_name(w, 2)) for w in words]
    repaired = tasks.repair(groups, random.Random(3))
    for s in range(2):  # same texts in the same roles
        assert Counter(g[s] for g in repaired) == Counter(g[s] for g in groups)
    assert not set(repaired) & set(groups)  # every pair is broken up


def test_copy_groups_are_one_name_and_only_the_leader_is_given_its_start_letter():
    tok = Tokenizer.from_docs(WORDS)
    groups = tasks.make_groups('copy', WORDS, 3, 50, random.Random(2))
    for g in groups:
        assert len(set(g)) == 1 and g[0] in WORDS
        enc = tasks.encode_group('copy', g, tok)
        # the leader starts from the name's first letter, one token ahead of the followers
        assert enc[0] == enc[1][1:] == enc[2][1:]
        assert enc[1][0] == enc[2][0] == tok.BOS
        assert tasks.starts('copy', g) == [g[0][0], None, None]
        assert [tok.decode(t) for t in enc] == [g[0]] * 3  # every stream writes the whole name


@pytest.mark.parametrize('task', ['independent', 'split'])
def test_the_other_tasks_start_every_stream_from_bos(task):
    tok = Tokenizer.from_docs(WORDS)
    for g in tasks.make_groups(task, WORDS, 2, 20, random.Random(0)):
        enc = tasks.encode_group(task, g, tok)
        assert [tok.decode(t) for t in enc] == list(g)
        assert all(t[0] == tok.BOS and t[-1] == tok.BOS for t in enc)
        assert tasks.starts(task, g) == [None, None]
