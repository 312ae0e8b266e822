"""Tiny expression trees, micrograd style: each node knows its value and its spreadsheet formula, side by side.

`eval(env)` computes the value from named numbers; `backward(env, grad, acc)` adds grad * d(value)/d(name) into
acc[name] for each name read (reverse mode, as in micrograd); `excel(ref)` writes the formula text, asking `ref`
for the cell that holds each name. The formula writer, the validator's local checks and the Derivation sheet all read
the same trees, so a formula and its check cannot drift apart.
"""

import math
from dataclasses import dataclass

_ADD, _MUL, _POW, _ATOM = 1, 2, 3, 4  # Excel operator precedence, loosest first


def _num_text(v):
    return repr(float(v)).removesuffix(".0") if float(v).is_integer() else repr(float(v))


class Expr:
    prec = _ATOM

    def __add__(self, other): return Add(self, wrap(other))
    def __radd__(self, other): return Add(wrap(other), self)
    def __sub__(self, other): return Sub(self, wrap(other))
    def __rsub__(self, other): return Sub(wrap(other), self)
    def __mul__(self, other): return Mul(self, wrap(other))
    def __rmul__(self, other): return Mul(wrap(other), self)
    def __truediv__(self, other): return Div(self, wrap(other))
    def __rtruediv__(self, other): return Div(wrap(other), self)
    def __neg__(self): return Mul(Num(-1), self)

    def __pow__(self, power):
        if power != 2:
            raise ValueError(f"only squares are spreadsheet quantities here, not ^{power}")
        return Square(self)

    def names(self):
        """The names this expression reads, in order of first use."""
        seen = {}
        self._collect(seen)
        return list(seen)

    def nodes(self):
        """This expression and every expression inside it."""
        yield self
        for child in self.children():
            yield from child.nodes()

    def _collect(self, seen):
        for child in self.children():
            child._collect(seen)

    def children(self):
        return ()

    def backward(self, env, grad, acc):
        """Add grad * d(self)/d(name) into acc[name] for every name read. An env that computes some names
        from their own expressions (validate's RowEnv) routes the gradient through them (env.backward)."""

    def paren(self, child, ref, strict=False):
        text = child.excel(ref)
        tight = child.prec < self.prec or (strict and child.prec == self.prec)
        return f"({text})" if tight else text


def partials(expr, env):
    """{name: d(expr)/d(name)} at env, for the names the expression reads."""
    acc = {}
    expr.backward(env, 1.0, acc)
    return acc


def _to_name(env, name, grad, acc):
    route = getattr(env, "backward", None)
    if route is not None:
        route(name, grad, acc)
    else:
        acc[name] = acc.get(name, 0.0) + grad


def wrap(x):
    return x if isinstance(x, Expr) else Num(x)


@dataclass(frozen=True, eq=False)
class Ref(Expr):
    name: str
    def eval(self, env): return float(env[self.name])
    def excel(self, ref): return ref(self.name)
    def backward(self, env, grad, acc): _to_name(env, self.name, grad, acc)
    def _collect(self, seen): seen.setdefault(self.name)
    def symbol(self): return self.name


@dataclass(frozen=True, eq=False)
class Num(Expr):
    value: float
    def eval(self, env): return float(self.value)
    def backward(self, env, grad, acc): pass
    def excel(self, ref): return _num_text(self.value)


@dataclass(frozen=True, eq=False)
class Add(Expr):
    a: Expr
    b: Expr
    prec = _ADD
    def children(self): return (self.a, self.b)
    def eval(self, env): return self.a.eval(env) + self.b.eval(env)
    def backward(self, env, grad, acc): self.a.backward(env, grad, acc); self.b.backward(env, grad, acc)
    def excel(self, ref): return f"{self.paren(self.a, ref)}+{self.paren(self.b, ref)}"


@dataclass(frozen=True, eq=False)
class Sub(Expr):
    a: Expr
    b: Expr
    prec = _ADD
    def children(self): return (self.a, self.b)
    def eval(self, env): return self.a.eval(env) - self.b.eval(env)
    def backward(self, env, grad, acc): self.a.backward(env, grad, acc); self.b.backward(env, -grad, acc)
    def excel(self, ref): return f"{self.paren(self.a, ref)}-{self.paren(self.b, ref, strict=True)}"


@dataclass(frozen=True, eq=False)
class Mul(Expr):
    a: Expr
    b: Expr
    prec = _MUL
    def children(self): return (self.a, self.b)
    def eval(self, env): return self.a.eval(env) * self.b.eval(env)
    def backward(self, env, grad, acc):
        self.a.backward(env, grad * self.b.eval(env), acc)
        self.b.backward(env, grad * self.a.eval(env), acc)
    def excel(self, ref): return f"{self.paren(self.a, ref)}*{self.paren(self.b, ref)}"


@dataclass(frozen=True, eq=False)
class Div(Expr):
    a: Expr
    b: Expr
    prec = _MUL
    def children(self): return (self.a, self.b)
    def eval(self, env):
        b = self.b.eval(env)
        return self.a.eval(env) / b if b else math.copysign(math.inf, self.a.eval(env))
    def backward(self, env, grad, acc):
        b = self.b.eval(env)
        self.a.backward(env, grad / b, acc)
        self.b.backward(env, -grad * self.a.eval(env) / (b * b), acc)
    def excel(self, ref): return f"{self.paren(self.a, ref)}/{self.paren(self.b, ref, strict=True)}"


@dataclass(frozen=True, eq=False)
class Neg(Expr):
    """-(a): a cross-entropy's minus sign, written before parentheses, as Excel's unary minus binds first."""
    a: Expr
    def children(self): return (self.a,)
    def eval(self, env): return -self.a.eval(env)
    def backward(self, env, grad, acc): self.a.backward(env, -grad, acc)
    def excel(self, ref):
        inner = self.a.excel(ref)
        return f"-{inner}" if self.a.prec == _ATOM else f"-({inner})"


@dataclass(frozen=True, eq=False)
class Square(Expr):
    a: Expr
    prec = _POW
    def children(self): return (self.a,)
    def eval(self, env): return self.a.eval(env) ** 2
    def backward(self, env, grad, acc): self.a.backward(env, 2 * self.a.eval(env) * grad, acc)
    def excel(self, ref): return f"{self.paren(self.a, ref, strict=True)}^2"


def _exp(x):
    return math.exp(x) if x < 709.0 else math.inf


@dataclass(frozen=True, eq=False)
class Call(Expr):
    """A spreadsheet function of one argument: EXP(-x) as NEGEXP, EXP, LN, TANH, MAX(0,x) as RELU, step
    IF(x>0,1,0)."""
    fn: str
    a: Expr
    _FORMS = {  # formula, value, derivative
        "NEGEXP": ("EXP(-{})", lambda x: _exp(-x), lambda x: -_exp(-x)),
        "EXP": ("EXP({})", _exp, _exp),
        "LN": ("LN({})", lambda x: math.log(x) if x > 0 else math.nan, lambda x: 1 / x if x > 0 else math.nan),
        "TANH": ("TANH({})", math.tanh, lambda x: 1 - math.tanh(x) ** 2),
        "RELU": ("MAX(0,{})", lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0),
        "STEP": ("IF({}>0,1,0)", lambda x: 1.0 if x > 0 else 0.0, lambda x: 0.0),
    }
    def children(self): return (self.a,)
    def eval(self, env): return self._FORMS[self.fn][1](self.a.eval(env))
    def backward(self, env, grad, acc): self.a.backward(env, grad * self._FORMS[self.fn][2](self.a.eval(env)), acc)
    def excel(self, ref):
        inner = self.a.excel(ref)
        if self.fn == "NEGEXP" and self.a.prec < _ATOM:
            inner = f"({inner})"
        return self._FORMS[self.fn][0].format(inner)


def total(terms):
    """term1 + term2 + ... (left to right, as a student would write it)."""
    terms = list(terms)
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out
