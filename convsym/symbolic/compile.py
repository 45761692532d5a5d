"""Index-sum expressions compiled once into plain-Python evaluators over integer environments.

The exact value of a sum on an instance is computed by enumerating its points; substituting every
point into SymPy objects (``xreplace``, automatic evaluation, assumptions) is what makes that slow.
Here a bound, a condition or an index expression is translated *once*, by walking its SymPy tree,
into nested closures over an environment ``{Symbol: int}``; at a point only Python integers and
:class:`fractions.Fraction` are touched, so every value is exact.

Nothing is guessed.  The compiler knows a fixed list of node types (integers, rationals, symbols,
``Add``, ``Mul``, ``Pow`` with an integer exponent, ``floor``, ``ceiling``, ``Abs``, ``Max``,
``Min``, ``Mod``, ``Piecewise``, the six relations, ``And``/``Or``/``Not``, ``true``/``false``);
any other node makes :func:`compile_number` or :func:`compile_bool` raise :class:`Unsupported`,
and so does an evaluator that meets something it cannot decide exactly (a symbol with no value, a
division by zero, a ``Piecewise`` with no true branch).  The caller then uses the exact SymPy path
instead, which either computes the value or raises its own error.

Summands compile to polynomials (:func:`compile_poly`): a polynomial is a dict
``{monomial: coefficient}`` with coefficients ``int`` or ``Fraction`` (never zero) and a monomial a
``frozenset`` of ``(atom, exponent)`` pairs; an atom is a signal entry ``(IndexedBase, (i, j, ...))``
(the SymPy ``base[i, j, ...]``) or a symbol without a value.  Two polynomials are equal as
polynomials exactly when the dicts are equal.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from fractions import Fraction

import sympy
from sympy import Indexed, IndexedBase, Symbol
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

Number = int | Fraction
Env = dict
Poly = dict
NumberFn = Callable[[Env], Number]
BoolFn = Callable[[Env], bool]
PolyFn = Callable[[Env], Poly]

ONE: frozenset = frozenset()


class Unsupported(Exception):
    """The fast evaluator does not decide this expression here; use the exact SymPy path."""


def _norm(v: Number) -> Number:
    if isinstance(v, Fraction) and v.denominator == 1:
        return v.numerator
    return v


def as_int(v: Number) -> int:
    """``v`` as an int; :class:`Unsupported` unless it is an integer."""
    if isinstance(v, int):
        return v
    if v.denominator == 1:
        return v.numerator
    raise Unsupported(f"{v} is not an integer")


# ---------------------------------------------------------------------------------------------
# numbers


def _symbol(s: Symbol) -> NumberFn:
    def f(env: Env) -> Number:
        try:
            return env[s]
        except KeyError:
            raise Unsupported(f"{s} has no value") from None
    return f


def _pow(base: NumberFn, exp: int) -> NumberFn:
    if exp >= 0:
        return lambda env: base(env) ** exp

    def f(env: Env) -> Number:
        b = base(env)
        if b == 0:
            raise Unsupported("division by zero")
        return _norm(Fraction(1) / Fraction(b) ** (-exp))
    return f


def _add(parts: list[NumberFn]) -> NumberFn:
    if len(parts) == 2:
        p, q = parts
        return lambda env: _norm(p(env) + q(env))
    return lambda env: _norm(sum(f(env) for f in parts))


def _mul(parts: list[NumberFn]) -> NumberFn:
    if len(parts) == 2:
        p, q = parts
        return lambda env: _norm(p(env) * q(env))

    def f(env: Env) -> Number:
        out: Number = 1
        for g in parts:
            out = out * g(env)
        return _norm(out)
    return f


def _mod(p: NumberFn, q: NumberFn) -> NumberFn:
    def f(env: Env) -> Number:
        a, b = p(env), q(env)
        if b == 0:
            raise Unsupported("modulo zero")
        return _norm(a % b)  # Python's convention, SymPy's too: the sign of the divisor
    return f


def _piecewise(pairs: list[tuple[NumberFn, BoolFn]]) -> NumberFn:
    def f(env: Env) -> Number:
        for value, cond in pairs:
            if cond(env):
                return value(env)
        raise Unsupported("no branch of the Piecewise holds")
    return f


def compile_number(e) -> NumberFn:
    """An evaluator of the exact rational value of ``e`` (:class:`Unsupported` if a node is unknown)."""
    return _compiled(_NUMBERS, sympy.sympify(e), _int_source, "number", _number_tree)


def _compiled(cache: dict, e, source: Callable, what: str, tree: Callable) -> Callable:
    """The evaluator of ``e`` from ``cache``, else generated (or the closures) and remembered."""
    hit = cache.get(e)
    if hit is None:
        hit = _generated(e, source, what) or tree(e)
        _remember(cache, e, hit)
    return hit


def _number_tree(e) -> NumberFn:
    if e.is_Integer:
        v = int(e)
        return lambda env: v
    if e.is_Rational:
        q = Fraction(int(e.p), int(e.q))
        return lambda env: q
    if isinstance(e, Symbol):
        return _symbol(e)
    if isinstance(e, sympy.Add):
        return _add([compile_number(a) for a in e.args])
    if isinstance(e, sympy.Mul):
        return _mul([compile_number(a) for a in e.args])
    if isinstance(e, sympy.Pow):
        if not e.exp.is_Integer:
            raise Unsupported(f"power {e} with a non-integer exponent")
        return _pow(compile_number(e.base), int(e.exp))
    if isinstance(e, sympy.floor):
        g = compile_number(e.args[0])
        return lambda env: math.floor(g(env))
    if isinstance(e, sympy.ceiling):
        g = compile_number(e.args[0])
        return lambda env: math.ceil(g(env))
    if isinstance(e, sympy.Abs):
        g = compile_number(e.args[0])
        return lambda env: abs(g(env))
    if isinstance(e, (sympy.Max, sympy.Min)):
        parts = [compile_number(a) for a in e.args]
        pick = max if isinstance(e, sympy.Max) else min
        return lambda env: pick(g(env) for g in parts)
    if isinstance(e, sympy.Mod):
        return _mod(compile_number(e.args[0]), compile_number(e.args[1]))
    if isinstance(e, sympy.Piecewise):
        return _piecewise([(compile_number(v), compile_bool(c)) for v, c in e.args])
    raise Unsupported(f"no fast evaluator for {type(e).__name__} ({e})")


# ---------------------------------------------------------------------------------------------
# integer expressions as Python source
#
# An expression built from integers and symbols by +, *, powers with a nonnegative integer
# exponent, Max, Min and Abs has an integer value at every integer point, and Python computes it
# exactly with its own operators.  Such an expression (and a relation or a Boolean combination of
# them) is written once as the source of one Python function, which runs several times faster than
# the closures above; the source contains only operators, integer literals and ``env[_vN]``
# lookups of the expression's own symbols (bound by name in the function's namespace), never a
# name or a string from the expression.  Anything else (rationals, floor, Mod, Piecewise...) is
# compiled to closures as before.

_NUMBERS: dict = {}
_CONDITIONS: dict = {}
_CODE: dict = {}
_CACHE_LIMIT = 100_000


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _int_source(e, names: dict) -> str | None:
    if e.is_Integer:
        v = int(e)
        return f"({v})" if v < 0 else str(v)
    if isinstance(e, Symbol):
        var = names.get(e)
        if var is None:
            var = names[e] = f"_v{len(names)}"
        return f"env[{var}]"
    if isinstance(e, (sympy.Add, sympy.Mul, sympy.Max, sympy.Min, sympy.Abs)):
        parts = [_int_source(a, names) for a in e.args]
        if any(p is None for p in parts):
            return None
        if isinstance(e, sympy.Add):
            return "(" + " + ".join(parts) + ")"
        if isinstance(e, sympy.Mul):
            return "(" + " * ".join(parts) + ")"
        if isinstance(e, sympy.Abs):
            return f"abs({parts[0]})"
        return ("max(" if isinstance(e, sympy.Max) else "min(") + ", ".join(parts) + ")"
    if isinstance(e, sympy.Pow) and e.exp.is_Integer and int(e.exp) >= 0:
        base = _int_source(e.base, names)
        return None if base is None else f"({base} ** {int(e.exp)})"
    return None


_SOURCE_RELATIONS = {sympy.Eq: "==", sympy.Ne: "!=", sympy.Lt: "<", sympy.Le: "<=", sympy.Gt: ">",
                     sympy.Ge: ">="}


def _bool_source(c, names: dict) -> str | None:
    if isinstance(c, BooleanTrue):
        return "True"
    if isinstance(c, BooleanFalse):
        return "False"
    op = _SOURCE_RELATIONS.get(type(c))
    if op is not None:
        lhs, rhs = _int_source(c.lhs, names), _int_source(c.rhs, names)
        return None if lhs is None or rhs is None else f"({lhs} {op} {rhs})"
    if isinstance(c, (sympy.And, sympy.Or)):
        parts = [_bool_source(a, names) for a in c.args]
        if any(p is None for p in parts):
            return None
        # every argument evaluated, as the closures do
        return ("all([" if isinstance(c, sympy.And) else "any([") + ", ".join(parts) + "])"
    if isinstance(c, sympy.Not):
        inner = _bool_source(c.args[0], names)
        return None if inner is None else f"(not {inner})"
    return None


def _missing(exc: KeyError) -> Unsupported:
    return Unsupported(f"{exc.args[0]} has no value")


def _generated(e, source: Callable, what: str) -> Callable | None:
    """The evaluator of ``e`` as one generated Python function, or None when ``e`` is not an
    integer expression (or condition) of the kinds above, or is a bare integer or symbol."""
    if e.is_Atom:
        return None
    names: dict = {}
    body = source(e, names)
    if body is None:
        return None
    code = (f"def _{what}(env):\n"
            f"    try:\n"
            f"        return {body}\n"
            f"    except KeyError as exc:\n"
            f"        raise _missing(exc) from None\n")
    compiled = _CODE.get(code)  # expressions of one shape share the code, with their own symbols
    if compiled is None:
        compiled = compile(code, f"<convsym.compile {what}>", "exec")
        _remember(_CODE, code, compiled)
    namespace = {var: sym for sym, var in names.items()}
    namespace["_missing"] = _missing
    exec(compiled, namespace)  # noqa: S102 (source built above)
    return namespace[f"_{what}"]


# ---------------------------------------------------------------------------------------------
# conditions

_RELATIONS: dict[type, Callable[[Number, Number], bool]] = {
    sympy.Eq: lambda a, b: a == b,
    sympy.Ne: lambda a, b: a != b,
    sympy.Lt: lambda a, b: a < b,
    sympy.Le: lambda a, b: a <= b,
    sympy.Gt: lambda a, b: a > b,
    sympy.Ge: lambda a, b: a >= b,
}


def _relation(test: Callable[[Number, Number], bool], lhs: NumberFn, rhs: NumberFn) -> BoolFn:
    return lambda env: test(lhs(env), rhs(env))


def _and(parts: list[BoolFn]) -> BoolFn:
    # every argument is evaluated (as SymPy does once the values are numbers): an argument that
    # cannot be decided is Unsupported even when another one is false
    return lambda env: all([g(env) for g in parts])


def _or(parts: list[BoolFn]) -> BoolFn:
    return lambda env: any([g(env) for g in parts])


def compile_bool(c) -> BoolFn:
    """An evaluator of the truth of the condition ``c`` (:class:`Unsupported` if a node is unknown)."""
    return _compiled(_CONDITIONS, sympy.sympify(c), _bool_source, "condition", _bool_tree)


def _bool_tree(c) -> BoolFn:
    if isinstance(c, BooleanTrue):
        return lambda env: True
    if isinstance(c, BooleanFalse):
        return lambda env: False
    for cls, test in _RELATIONS.items():
        if type(c) is cls:
            return _relation(test, compile_number(c.lhs), compile_number(c.rhs))
    if isinstance(c, sympy.And):
        return _and([compile_bool(a) for a in c.args])
    if isinstance(c, sympy.Or):
        return _or([compile_bool(a) for a in c.args])
    if isinstance(c, sympy.Not):
        g = compile_bool(c.args[0])
        return lambda env: not g(env)
    raise Unsupported(f"no fast evaluator for the condition {type(c).__name__} ({c})")


# ---------------------------------------------------------------------------------------------
# polynomials in signal entries and scalars


def poly_const(v: Number) -> Poly:
    return {ONE: v} if v != 0 else {}


def poly_add_into(acc: Poly, p: Poly) -> None:
    """``acc += p`` in place (zero coefficients removed)."""
    for m, c in p.items():
        s = acc.get(m, 0) + c
        if s == 0:
            acc.pop(m, None)
        else:
            acc[m] = _norm(s)


def _mono_mul(m1: frozenset, m2: frozenset) -> frozenset:
    if not m1:
        return m2
    if not m2:
        return m1
    d = dict(m1)
    for a, e in m2:
        d[a] = d.get(a, 0) + e
    return frozenset(d.items())


def poly_mul(p: Poly, q: Poly) -> Poly:
    if not p or not q:
        return {}
    if len(q) == 1 and ONE in q:
        c = q[ONE]
        return p if c == 1 else {m: _norm(v * c) for m, v in p.items()}
    if len(p) == 1 and ONE in p:
        return poly_mul(q, p)
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = _mono_mul(m1, m2)
            s = out.get(m, 0) + c1 * c2
            if s == 0:
                out.pop(m, None)
            else:
                out[m] = _norm(s)
    return out


def poly_pow(p: Poly, n: int) -> Poly:
    out = poly_const(1)
    for _ in range(n):
        out = poly_mul(out, p)
    return out


def atom_to_sympy(atom) -> sympy.Expr:
    if isinstance(atom, tuple):
        base, idx = atom
        return base[idx] if len(idx) != 1 else base[idx[0]]
    return atom


def poly_to_sympy(p: Poly) -> sympy.Expr:
    """The polynomial as a SymPy expression (one ``Add`` of one ``Mul`` per monomial)."""
    terms = []
    for m, c in p.items():
        coef = sympy.Integer(c) if isinstance(c, int) else sympy.Rational(c.numerator, c.denominator)
        terms.append(sympy.Mul(coef, *[atom_to_sympy(a) ** e for a, e in m]))
    return sympy.Add(*terms)


def _indexed_atom(base: IndexedBase, indices: list[NumberFn]) -> PolyFn:
    def f(env: Env) -> Poly:
        key = (base, tuple(as_int(g(env)) for g in indices))
        return {frozenset(((key, 1),)): 1}
    return f


def _symbol_poly(s: Symbol) -> PolyFn:
    def f(env: Env) -> Poly:
        v = env.get(s)
        if v is None:
            return {frozenset(((s, 1),)): 1}
        return poly_const(v)
    return f


def _poly_add(parts: list[PolyFn]) -> PolyFn:
    def f(env: Env) -> Poly:
        out: Poly = {}
        for g in parts:
            poly_add_into(out, g(env))
        return out
    return f


def _poly_mul(parts: list[PolyFn]) -> PolyFn:
    def f(env: Env) -> Poly:
        out = parts[0](env)
        for g in parts[1:]:
            if not out:
                return out
            out = poly_mul(out, g(env))
        return out
    return f


def _poly_pow(base: PolyFn, exp: int) -> PolyFn:
    return lambda env: poly_pow(base(env), exp)


def _poly_number(g: NumberFn) -> PolyFn:
    return lambda env: poly_const(g(env))


def compile_poly(e, special: Callable[[sympy.Basic], PolyFn | None] | None = None) -> PolyFn:
    """An evaluator of ``e`` as a polynomial in signal entries and the symbols without a value.

    ``special(node)`` may claim a node first (an application of a defined operation, an entry of an
    intermediate signal) by returning its evaluator.  A symbol with a value in the environment is
    that value, one without stays a variable (as ``xreplace`` leaves it).  A negative power is
    allowed of a number only.
    """
    e = sympy.sympify(e)
    if special is not None:
        hit = special(e)
        if hit is not None:
            return hit
    if e.is_Rational:
        return _poly_number(compile_number(e))
    if isinstance(e, Symbol):
        return _symbol_poly(e)
    if isinstance(e, Indexed):
        if not isinstance(e.base, IndexedBase):
            raise Unsupported(f"entry {e} of something that is not a signal")
        return _indexed_atom(e.base, [compile_number(i) for i in e.indices])
    if isinstance(e, sympy.Add):
        return _poly_add([compile_poly(a, special) for a in e.args])
    if isinstance(e, sympy.Mul):
        return _poly_mul([compile_poly(a, special) for a in e.args])
    if isinstance(e, sympy.Pow):
        if e.exp.is_Integer and int(e.exp) >= 0:
            return _poly_pow(compile_poly(e.base, special), int(e.exp))
        if e.exp.is_Integer and not (e.base.atoms(Indexed) or e.base.atoms(sympy.Function)):
            return _poly_number(compile_number(e))  # e.g. 1/k**2: a number once k has a value
        raise Unsupported(f"power {e} is not a polynomial")
    raise Unsupported(f"no fast evaluator for {type(e).__name__} in a summand ({e})")


def env_ints(env: Mapping) -> dict:
    """``env`` with Python ints for values (:class:`Unsupported` if a value is not an integer)."""
    out = {}
    for k, v in env.items():
        if isinstance(v, int) and not isinstance(v, bool):
            out[k] = v
        elif isinstance(v, sympy.Integer):
            out[k] = int(v)
        else:
            raise Unsupported(f"{k}={v} is not an integer")
    return out


@functools.lru_cache(maxsize=4096)
def _cached_number(e: sympy.Basic) -> NumberFn | Unsupported:
    # keyed by the expression itself: SymPy equality is structural and typed (2 and 2.0 differ)
    try:
        return compile_number(e)
    except Unsupported as exc:
        return exc


def int_value(expr, values: Mapping) -> int | None:
    """The value of ``expr`` at the integer ``values`` ({Symbol: int}) when the compiled evaluator
    decides it and it is an integer, else None (then substitute with SymPy, which decides or
    reports).  The compiled form of each expression is kept (up to 4096 expressions)."""
    f = _cached_number(sympy.sympify(expr))
    if isinstance(f, Unsupported):
        return None
    try:
        v = f(env_ints(values))
    except Unsupported:
        return None
    return v if isinstance(v, int) else None
