"""Value: every operation's gradient against central differences, algebraic
properties over random inputs, deep graphs, the topological order of microgpt, the op
each node records (exact: it recomputes the node and its local gradients), and what a
Value may hold (real numbers only; numpy scalars as Python numbers; no complex powers)."""
import math
import random
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from microdnb.scalar.autograd import Value

H = 1e-6  # central differences: truncation ~H^2, round-off ~1e-16/H; both far below RTOL
RTOL = 1e-6


def central_difference(f, xs, i, h=H):
    """d f / d xs[i] of a plain-float function, by (f(x + h) - f(x - h)) / 2h."""
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def autograd_gradient(f, xs):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out, [v.grad for v in vs]


def assert_close(a, b, rtol=RTOL, atol=1e-9):
    assert abs(a - b) <= rtol * max(abs(a), abs(b)) + atol, (a, b)


# Each op once, written the way the model writes it; inputs where every op is smooth.
OPS = {
    'add': (lambda x, y: x + y, (0.7, -1.3)),
    'radd': (lambda x: 2.5 + x, (0.7,)),
    'mul': (lambda x, y: x * y, (0.7, -1.3)),
    'rmul': (lambda x: 2.5 * x, (0.7,)),
    'square (mul by itself)': (lambda x: x * x, (0.7,)),
    'pow int': (lambda x: x ** 3, (0.7,)),
    'pow negative': (lambda x: x ** -0.5, (1.7,)),
    'pow fractional': (lambda x: x ** 1.5, (1.7,)),
    'log': (lambda x: x.log() if isinstance(x, Value) else math.log(x), (1.7,)),
    'exp': (lambda x: x.exp() if isinstance(x, Value) else math.exp(x), (0.7,)),
    'relu positive': (lambda x: x.relu() if isinstance(x, Value) else max(0.0, x), (0.7,)),
    'relu negative': (lambda x: x.relu() if isinstance(x, Value) else max(0.0, x), (-0.7,)),
    'neg': (lambda x: -x, (0.7,)),
    'sub': (lambda x, y: x - y, (0.7, -1.3)),
    'rsub': (lambda x: 2.5 - x, (0.7,)),
    'truediv': (lambda x, y: x / y, (0.7, -1.3)),
    'rtruediv': (lambda x: 2.5 / x, (0.7,)),
    'sub Value constant': (lambda x: x - 4.0, (0.7,)),
    'div by constant': (lambda x: x / 4.0, (0.7,)),
}


@pytest.mark.parametrize('name', OPS)
def test_op_value_and_gradient_match_float_math(name):
    f, xs = OPS[name]
    out, grads = autograd_gradient(f, xs)
    assert out.data == pytest.approx(f(*xs), rel=1e-15)
    for i in range(len(xs)):
        assert_close(grads[i], central_difference(f, xs, i))


def test_relu_gradient_is_exactly_zero_or_one():
    for x, g in [(-2.0, 0.0), (0.0, 0.0), (3.0, 1.0)]:
        v = Value(x)
        v.relu().backward()
        assert v.grad == g


def test_gradients_accumulate_over_every_use():
    # f = x*y + x + exp(x): x is used three times, so its gradient has three terms
    x, y = Value(0.3), Value(-2.0)
    f = x * y + x + x.exp()
    f.backward()
    assert_close(x.grad, -2.0 + 1.0 + math.exp(0.3), rtol=1e-15, atol=0)
    assert y.grad == 0.3


# ---- property tests over random inputs ----------------------------------------

reals = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)
positives = st.floats(min_value=0.2, max_value=5.0, allow_nan=False, allow_infinity=False)
away_from_zero = st.one_of(st.floats(min_value=0.2, max_value=5.0), st.floats(min_value=-5.0, max_value=-0.2))


@given(reals, reals)
def test_property_add_mul_are_float_add_mul(a, b):
    assert (Value(a) + Value(b)).data == a + b
    assert (Value(a) * Value(b)).data == a * b
    assert (a + Value(b)).data == a + b   # radd
    assert (a * Value(b)).data == a * b   # rmul


@given(reals, reals)
def test_property_sub_is_negated_reverse_sub(a, b):
    assert (Value(a) - Value(b)).data == -((Value(b) - Value(a)).data)
    assert (a - Value(b)).data == (Value(a) - b).data  # rsub agrees with sub


@given(positives)
def test_property_exp_log_inverse(x):
    assert Value(x).log().exp().data == pytest.approx(x, rel=1e-14)
    assert Value(math.log(x)).exp().log().data == pytest.approx(math.log(x), rel=1e-14, abs=1e-15)


@given(away_from_zero, away_from_zero)
def test_property_division_is_multiplication_by_inverse(a, b):
    assert (Value(a) / Value(b)).data == pytest.approx(a / b, rel=1e-15)
    assert (a / Value(b)).data == pytest.approx(a / b, rel=1e-15)  # rtruediv
    assert (Value(b) / Value(b)).data == pytest.approx(1.0, rel=1e-15)


@given(reals)
def test_property_relu_of_neg_plus_relu_is_abs(x):
    v = Value(x)
    assert (v.relu() + (-v).relu()).data == abs(x)


# Random two-argument expressions mixing all operations, in domains where every
# node is smooth (log and fractional powers only ever see positive numbers).
EXPRESSIONS = [
    lambda x, y: (x * y + 1.5) / (y ** 2 + 0.5),
    lambda x, y: (x.exp() if isinstance(x, Value) else math.exp(x)) * y - x / 3.0,
    lambda x, y: 2.0 / (x * x + y * y + 0.5) - (1.0 - x) * y,
    lambda x, y: ((x * x + 1.0).log() if isinstance(x, Value) else math.log(x * x + 1.0)) + (y * y + 2.0) ** 0.5,
    lambda x, y: -x * (y - 0.5) ** 3 + 4.0 - y / (x * x + 1.0),
    lambda x, y: ((x * y) ** 2 + 1.0) ** -1.5 + (x - y) * (x + y),
]


@given(st.sampled_from(range(len(EXPRESSIONS))), reals, reals)
def test_property_gradients_of_random_expressions_match_central_differences(k, a, b):
    f = EXPRESSIONS[k]
    out, grads = autograd_gradient(f, (a, b))
    assert out.data == pytest.approx(f(a, b), rel=1e-12, abs=1e-12)
    for i in range(2):
        assert_close(grads[i], central_difference(f, (a, b), i), rtol=1e-5, atol=1e-7)


# ---- deep graphs and the traversal order ----------------------------------------

@pytest.mark.slow
def test_chain_of_100k_nodes_backpropagates_without_recursion_error():
    assert sys.getrecursionlimit() < 100_000  # else this test would prove nothing
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y + 0.5
    y.backward()
    assert y.data == 50_001.0
    assert x.grad == 1


def recursive_build_topo(root):
    """microgpt's build_topo, verbatim: the order the reference sums gradients in."""
    topo = []
    visited = set()

    def build_topo(v):
        if v not in visited:
            visited.add(v)
            for child in v._children:
                build_topo(child)
            topo.append(v)
    build_topo(root)
    return topo


def recursive_backward(root):
    topo = recursive_build_topo(root)
    root.grad = 1
    for v in reversed(topo):
        for child, local_grad in zip(v._children, v._local_grads):
            child.grad += local_grad * v.grad


def random_graph(seed, n_leaves=6, n_ops=200):
    """A random DAG over a few leaves: shared subexpressions, repeated children (x*x), constants."""
    r = random.Random(seed)
    leaves = [Value(r.uniform(0.5, 1.5)) for _ in range(n_leaves)]
    pool = list(leaves)
    for _ in range(n_ops):
        a, b = r.choice(pool), r.choice(pool)
        op = r.randrange(7)
        if op == 0:
            v = a + b
        elif op == 1:
            v = a * b
        elif op == 2:
            v = a * a
        elif op == 3:
            v = (a * 0.1).exp()
        elif op == 4:
            v = (a * a + 1.0).log()
        elif op == 5:
            v = 1.0 - a
        else:
            v = a.relu() + r.uniform(-1, 1)
        pool.append(v)
    # the root depends on several recent nodes, so most of the pool is reachable
    root = sum(pool[-10:], Value(0.0))
    return root, leaves


@pytest.mark.parametrize('seed', range(5))
def test_topo_order_is_microgpts_recursive_order(seed):
    root, _ = random_graph(seed)
    iterative = root.topo_order()
    recursive = recursive_build_topo(root)
    assert len(iterative) == len(recursive) > 100
    assert all(a is b for a, b in zip(iterative, recursive))


@given(st.integers(min_value=0, max_value=10**9))
def test_property_backward_equals_recursive_backward_bit_for_bit(seed):
    root, leaves = random_graph(seed, n_ops=60)
    root.backward()
    ours = [v.grad for v in leaves]
    root2, leaves2 = random_graph(seed, n_ops=60)
    recursive_backward(root2)
    assert [v.grad for v in leaves2] == ours


def test_backward_of_a_leaf_sets_its_grad_to_one():
    v = Value(3.0)
    v.backward()
    assert v.grad == 1
    assert v.topo_order() == [v]


# ---- the op each node records ----------------------------------------------------------

# What `_op` names, as a function of the children's data: the op record is exact if
# applying it to a node's children gives the node's data, and its central differences
# give the node's local gradients.
OP_FUNCTIONS = {
    '+': lambda a, b: a + b,
    '*': lambda a, b: a * b,
    'log': math.log,
    'exp': math.exp,
    'relu': lambda a: max(0.0, a),
}


def op_function(op):
    if op.startswith('**'):
        k = float(op[2:])
        return lambda a: a ** k
    return OP_FUNCTIONS[op]


RECORDED = {
    'leaf': (lambda x, y: x, ''),
    'add': (lambda x, y: x + y, '+'),
    'mul': (lambda x, y: x * y, '*'),
    'radd': (lambda x, y: 2.5 + x, '+'),
    'rmul': (lambda x, y: 2.5 * x, '*'),
    'neg': (lambda x, y: -x, '*'),              # x * -1
    'sub': (lambda x, y: x - y, '+'),           # x + (y * -1)
    'div': (lambda x, y: x / y, '*'),           # x * y**-1
    'rtruediv': (lambda x, y: 2.0 / x, '*'),
    'pow int': (lambda x, y: x ** 3, '**3'),
    'pow negative': (lambda x, y: x ** -0.5, '**-0.5'),
    'pow numpy int': (lambda x, y: x ** np.int64(2), '**2'),
    'log': (lambda x, y: x.log(), 'log'),
    'exp': (lambda x, y: x.exp(), 'exp'),
    'relu': (lambda x, y: x.relu(), 'relu'),
}


@pytest.mark.parametrize('name', RECORDED)
def test_each_operation_records_its_op(name):
    f, op = RECORDED[name]
    assert f(Value(1.7), Value(0.6))._op == op


def test_one_times_one_is_a_product():
    # the old drawing guessed the op from the local gradients, and (1, 1) read as '+'
    v = Value(1) * Value(1)
    assert v._op == '*' and v._local_grads == (1, 1)
    assert (Value(1.0) + Value(1.0))._op == '+'


def assert_op_record_is_exact(v):
    """v's data is its op applied to its children, and its local grads are that op's
    derivatives (central differences)."""
    f = op_function(v._op)
    xs = [c.data for c in v._children]
    assert f(*xs) == pytest.approx(v.data, rel=1e-15, abs=1e-300)
    for i, local in enumerate(v._local_grads):
        if v._op == 'relu' and abs(xs[0]) < 1e-3:  # the kink: no derivative to check
            continue
        assert_close(local, central_difference(f, xs, i), rtol=1e-5, atol=1e-7)


@given(st.integers(min_value=0, max_value=10**9))
def test_property_every_node_of_a_random_graph_records_its_op_exactly(seed):
    root, _ = random_graph(seed, n_ops=40)
    nodes = root.topo_order()
    assert {v._op for v in nodes if not v._children} == {''}
    for v in nodes:
        if v._children:
            assert_op_record_is_exact(v)


@given(st.sampled_from(range(len(EXPRESSIONS))), reals, reals)
def test_property_the_op_record_of_random_expressions_is_exact(k, a, b):
    out, _ = autograd_gradient(EXPRESSIONS[k], (a, b))
    for v in out.topo_order():
        if v._children:
            assert_op_record_is_exact(v)


# ---- what a Value may hold ---------------------------------------------------------------

@pytest.mark.parametrize('bad', ['ab', None, [1], (1.0,), {'x': 1}, 1j, True, object()],
                         ids=lambda b: type(b).__name__)
def test_a_value_holds_only_a_real_number(bad):
    with pytest.raises(TypeError, match=f"got {type(bad).__name__}"):
        Value(bad)


ARITHMETIC = [lambda v, x: v + x, lambda v, x: x + v, lambda v, x: v * x, lambda v, x: x * v,
              lambda v, x: v - x, lambda v, x: x - v, lambda v, x: v / x, lambda v, x: x / v,
              lambda v, x: v ** x, lambda v, x: x ** v]


@pytest.mark.parametrize('bad', ['ab', None, [1]], ids=['str', 'None', 'list'])
@pytest.mark.parametrize('k', range(len(ARITHMETIC)))
def test_arithmetic_with_a_non_number_is_a_type_error(bad, k):
    with pytest.raises(TypeError):
        ARITHMETIC[k](Value(2.0), bad)


def test_a_value_exponent_is_a_type_error():
    with pytest.raises(TypeError, match='the exponent must be a real number .* got Value'):
        Value(2.0) ** Value(2.0)
    with pytest.raises(TypeError, match='got str'):
        Value(2.0) ** '2'


@pytest.mark.parametrize('kind, plain', [(np.float64, float), (np.float32, float), (np.int64, int),
                                         (np.int32, int), (int, int), (float, float)])
def test_numpy_scalars_are_stored_as_python_numbers(kind, plain):
    v = Value(kind(3))
    assert type(v.data) is plain and v.data == 3
    w = Value(2.0) * kind(3)
    assert type(w._children[1].data) is plain and w.data == 6.0
    assert type((Value(2.0) ** kind(2)).data) is float


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_property_numpy_floats_round_trip_exactly(x):
    v = Value(np.float64(x))
    assert type(v.data) is float and v.data == x
    assert (Value(x) + np.float64(1.0)).data == x + 1.0


@given(st.one_of(st.text(), st.none(), st.lists(st.integers(), max_size=3), st.booleans(),
                 st.complex_numbers(allow_nan=False)))
def test_property_anything_but_a_real_number_is_refused(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)
    with pytest.raises(TypeError):
        Value(1.0) + bad


def test_a_fractional_power_of_a_negative_number_is_a_value_error():
    with pytest.raises(ValueError, match=r'fractional power of a negative number: \(-8\) \*\* 0.5'):
        Value(-8) ** 0.5
    with pytest.raises(ValueError, match='fractional power of a negative number'):
        Value(-0.1) ** -1.5
    # integer powers of negative numbers stay real, as do fractional powers of positive ones
    assert (Value(-8) ** 2).data == 64 and (Value(-8.0) ** -1).data == -0.125
    assert (Value(-2.0) ** 3.0).data == -8.0  # 3.0 is a whole number
    assert (Value(8.0) ** (1 / 3)).data == pytest.approx(2.0)


@given(st.floats(min_value=-5, max_value=-0.01), st.floats(min_value=-3, max_value=3))
def test_property_powers_of_negative_numbers_are_real_or_refused(x, k):
    try:
        out = Value(x) ** k
    except ValueError:
        assert k != int(k)
        return
    assert k == int(k) and isinstance(out.data, float)
