"""Scalar reverse-mode automatic differentiation (micrograd / microgpt's `Value`).

Each `Value` remembers its children and the local derivative of itself with
respect to each child. `backward()` walks the graph in reverse topological order
and applies the chain rule: child.grad += local_grad * v.grad.
"""
import math


class Value:
    __slots__ = ('data', 'grad', '_children', '_local_grads')

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other):
        # `other` is a plain number: d(x^n)/dx = n x^(n-1)
        return Value(self.data**other, (self,), (other * self.data**(other - 1),))

    def log(self):
        return Value(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        return Value(math.exp(self.data), (self,), (math.exp(self.data),))

    def relu(self):
        return Value(max(0, self.data), (self,), (float(self.data > 0),))

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
