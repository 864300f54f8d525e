"""Scalar reverse-mode automatic differentiation (micrograd / microgpt's `Value`).

Each `Value` remembers its children, the local derivative of itself with respect to
each child (for a power, a `PowGrad` that computes it when backward() asks), and the
operation that made it (`_op`, for drawing the graph). `backward()`
walks the graph in reverse topological order and applies the chain rule:
child.grad += local_grad * v.grad.

A Value holds a real number: a Python int or float, or a numpy scalar (stored as the
Python int or float it equals). Anything else, and bools, raise TypeError, at once.
"""
import math
import numbers

PLAIN = frozenset((float, int))  # what .data holds; other real numbers are converted to these


def as_number(x, name='data'):
    """x as a plain int or float if it is a real number (numpy's too; not a bool), else TypeError."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number (int, float or a numpy scalar), "
                        f"got {type(x).__name__}")
    return int(x) if isinstance(x, numbers.Integral) else float(x)


class PowGrad:
    """The local gradient of x ** n, n x^(n-1), computed when backward() iterates over it:
    a forward pass alone (sampling) never pays for it, and x = 0 with n < 1 (sqrt(0)),
    where n x^(n-1) would divide by zero, has the derivative the limit from the right
    gives: +inf for 0 < n < 1 (as IEEE pow(0, n - 1) and PyTorch's sqrt backward), 0 for n = 0
    (x^0 is the constant 1). An infinite gradient times an upstream gradient of 0 is NaN, as
    in PyTorch."""
    __slots__ = ('x', 'n')

    def __init__(self, x, n):
        self.x, self.n = x, n

    def __iter__(self):
        x, n = self.x, self.n
        yield (0.0 if n == 0 else n * math.inf) if x == 0 and n < 1 else n * x ** (n - 1)


class Value:
    __slots__ = ('data', 'grad', '_children', '_local_grads', '_op')

    def __init__(self, data, children=(), local_grads=(), op=''):
        # only a leaf can hold a non-number: an operation on numbers makes a number
        if not children and type(data) not in PLAIN:
            data = as_number(data, 'Value data')
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads
        self._op = op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1), '+')

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), '*')

    def __pow__(self, other):
        """self ** other for a plain number `other` (int or float): d(x^n)/dx = n x^(n-1),
        computed in backward() (`PowGrad`), so that 0 ** 0.5 can be taken (gradient +inf).
        A fractional power of a negative number (Python's answer is complex) raises
        ValueError, as math.pow does.
        """
        if type(other) not in PLAIN:
            other = as_number(other, 'the exponent')
        data = self.data**other
        if type(data) is complex:
            raise ValueError(f"fractional power of a negative number: ({self.data!r}) ** {other!r}")
        return Value(data, (self,), PowGrad(self.data, other), f'**{other}')

    def log(self):
        return Value(math.log(self.data), (self,), (1 / self.data,), 'log')

    def exp(self):
        return Value(math.exp(self.data), (self,), (math.exp(self.data),), 'exp')

    def relu(self):
        return Value(max(0, self.data), (self,), (float(self.data > 0),), 'relu')

    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other**-1
    def __rtruediv__(self, other): return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def topo_order(self):
        """All nodes reachable from self, children before parents.

        The same order as microgpt's recursive `build_topo` (so gradients are
        summed in the same order and agree to the last bit), but with an explicit
        stack: a graph 100,000 nodes deep does not hit Python's recursion limit.
        """
        topo = []
        visited = {self}
        stack = [(self, iter(self._children))]
        while stack:
            v, children = stack[-1]
            for child in children:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._children)))
                    break
            else:  # every child done: v comes after all of them
                stack.pop()
                topo.append(v)
        return topo

    def backward(self):
        self.grad = 1
        for v in reversed(self.topo_order()):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad
