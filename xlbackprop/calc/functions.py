"""The spreadsheet functions the evaluator knows, with LibreOffice Calc's results (see values.py for where
they differ from Excel's). Any other function makes its cell uncomputable.

FUNCTIONS maps a name to (kind, fn, fewest arguments, most arguments). The kind says how the compiler
passes arguments: "scalar" values; "ref" values or closures.Area for references (aggregates, which skip
text and blanks in ranges); "array" values or matrices (SUMPRODUCT); "lazy" closures to call (IF).
"""

import math

from xlbackprop.calc.closures import Area, power
from xlbackprop.calc.values import (
    DIV0, NA, NUM, VALUE, ExcelError, KahanSum, Uncomputable, approx_floor, approx_sub, approx_value,
    checked, raised, to_bool, to_number,
)

_MANY = 255


def _produced(args):
    """An error raised while the arguments were evaluated: Calc reports it before anything the function
    itself finds."""
    for a in args:
        if a.__class__ is ExcelError and a.produced:
            return a
    return None


def _numeric(fn, domain=VALUE):
    """A function of numbers: its arguments converted as arithmetic does; `domain` is the error for an
    argument out of the function's domain (a ValueError from math) and #NUM! for an overflow."""
    def call(*args):
        err = _produced(args)
        if err is not None:
            return err
        xs = []
        for a in args:
            x = a if a.__class__ is float else to_number(a)
            if x.__class__ is not float:
                return x
            xs.append(x)
        try:
            y = fn(*xs)
        except OverflowError:
            return NUM
        except (ValueError, ZeroDivisionError):
            return domain
        return y if y.__class__ is ExcelError else checked(float(y))
    return call


def _ln(x):
    if x <= 0.0:
        raise ValueError
    return math.log(x)


def _log(x, base=10.0):
    if x <= 0.0 or base <= 0.0 or base == 1.0:
        raise ValueError
    return math.log10(x) if base == 10.0 else math.log1p(x - 1.0) / math.log1p(base - 1.0)  # as Calc


def _round(x, digits):
    """Calc's ROUND: half away from zero after rounding to 15 significant digits (ROUND(1.005,2) is 1.01)."""
    n = int(digits)
    f = 10.0 ** abs(n)
    y = x * f if n >= 0 else x / f
    if not math.isfinite(y):
        return x
    y = approx_value(abs(y))
    y = math.copysign(math.floor(y + 0.5), x)
    return y / f if n >= 0 else y * f


def _mod(x, y):
    if y == 0.0:
        return DIV0
    z = approx_sub(x, approx_floor(x / y) * y)
    if z.__class__ is float and ((y < 0.0 < z) or (z < 0.0 < y)):
        z += y
    return z


def _sign(x):
    return (x > 0.0) - (x < 0.0)


# ---- aggregates over references -------------------------------------------------------------------------

def _each_number(args, visit, text=lambda a: VALUE, bools=True):
    """visit(x) for every number the arguments hold: in a reference numbers and booleans count (`bools`),
    text and blanks do not; a text argument itself is text(a) (#VALUE! in Calc's SUM). Returns an error, or
    None."""
    err = _produced(args)
    if err is not None:
        return err
    for a in args:
        if a.__class__ is Area:
            for v in a.values():
                cls = v.__class__
                if cls is float:
                    visit(v)
                elif cls is bool:
                    if bools:
                        visit(1.0 if v else 0.0)
                elif cls is ExcelError:
                    return raised(v)
        elif a is not None:
            x = to_number(a) if a.__class__ is not str else text(a)
            if x.__class__ is ExcelError:
                return raised(x)
            visit(float(x))
    return None


def _sum(*args, each=_each_number):
    total = KahanSum()
    return each(args, total.add) or total.get()


def _sumsq(*args, each=_each_number):
    total = KahanSum()
    return each(args, lambda x: total.add(x * x)) or checked(total.get())


def _collect(args, each=_each_number):
    xs = []
    return each(args, xs.append), xs


def _max(*args, each=_each_number):
    err, xs = _collect(args, each)
    return err or (max(xs) if xs else 0.0)


def _min(*args, each=_each_number):
    err, xs = _collect(args, each)
    return err or (min(xs) if xs else 0.0)


def _average(*args, each=_each_number):
    total, count = KahanSum(), [0]

    def visit(x):
        total.add(x)
        count[0] += 1
    err = each(args, visit)
    return err or (total.get() / count[0] if count[0] else DIV0)


def _product(*args, each=_each_number):
    err, xs = _collect(args, each)
    if err:
        return err
    p = 1.0
    for x in xs:
        p *= x
    return checked(p) if xs else 0.0


def _logical(combine):
    """AND, OR: over the numbers of references and the truth of each other argument; none at all: #VALUE!."""
    def call(*args):
        xs = []
        err = _each_number(args, lambda x: xs.append(x != 0.0), text=to_bool)
        return err or (combine(xs) if xs else VALUE)
    return call


def _count(*args):
    """COUNT: numbers (and booleans) in references, and arguments that are or read as numbers; errors are
    not counted, not raised."""
    n = 0
    for a in args:
        if a.__class__ is Area:
            n += sum(1 for v in a.values() if v.__class__ is float or v.__class__ is bool)
        elif a.__class__ is str:
            try:
                n += to_number(a).__class__ is float
            except Uncomputable:
                raise Uncomputable(f"COUNT of the text {a[:40]!r}, which the spreadsheet reads through its "
                                   "locale") from None
        elif a.__class__ is float or a.__class__ is bool:
            n += 1
    return float(n)


def _counta(*args):
    n = 0
    for a in args:
        if a.__class__ is Area:
            n += sum(1 for v in a.values() if v is not None)
        elif a is not None:
            n += 1
    return float(n)


def _not(v):
    b = to_bool(v)
    return b if b.__class__ is ExcelError else not b


def _sumproduct(*args):
    err = _produced(args)
    if err is not None:
        return err
    mats = [a if a.__class__ is list else [[a]] for a in args]
    shape = (len(mats[0]), len(mats[0][0]))
    if any((len(m), len(m[0])) != shape for m in mats):
        return VALUE
    total = KahanSum()
    for i in range(shape[0]):
        for j in range(shape[1]):
            p = 1.0
            for m in mats:
                v = m[i][j]
                cls = v.__class__
                if cls is float:
                    p *= v
                elif cls is bool:
                    p *= 1.0 if v else 0.0
                elif cls is ExcelError:
                    return raised(v)
                else:  # text and blanks are 0 in SUMPRODUCT
                    p = 0.0
            total.add(p)
    return checked(total.get())


# ---- lazy functions: only the branch taken is evaluated ---------------------------------------------------

def _if(s, r, c, cond, yes=None, no=None):
    v = cond(s, r, c)
    if v.__class__ is list:
        raise Uncomputable("IF over an array inside SUMPRODUCT is not known to the evaluator")
    b = to_bool(v)
    if b.__class__ is ExcelError:
        return raised(b)
    if b:
        return yes(s, r, c) if yes is not None else True
    return no(s, r, c) if no is not None else False


def _iferror(s, r, c, value, alternative):
    v = value(s, r, c)
    return alternative(s, r, c) if v.__class__ is ExcelError else v


FUNCTIONS = {
    "EXP": ("scalar", _numeric(math.exp, NUM), 1, 1),
    "LN": ("scalar", _numeric(_ln), 1, 1),
    "LOG": ("scalar", _numeric(_log), 1, 2),
    "LOG10": ("scalar", _numeric(_log), 1, 1),  # _log's base defaults to 10
    "TANH": ("scalar", _numeric(math.tanh), 1, 1),
    "SQRT": ("scalar", _numeric(math.sqrt), 1, 1),
    "ABS": ("scalar", _numeric(abs), 1, 1),
    "POWER": ("scalar", _numeric(power), 2, 2),
    "ROUND": ("scalar", _numeric(_round), 2, 2),
    "INT": ("scalar", _numeric(approx_floor), 1, 1),
    "SIGN": ("scalar", _numeric(_sign), 1, 1),
    "MOD": ("scalar", _numeric(_mod), 2, 2),
    "PI": ("scalar", lambda: math.pi, 0, 0),
    "TRUE": ("scalar", lambda: True, 0, 0),
    "FALSE": ("scalar", lambda: False, 0, 0),
    "NA": ("scalar", lambda: NA, 0, 0),
    "NOT": ("scalar", _not, 1, 1),
    "ISNUMBER": ("scalar", lambda v: v.__class__ is float or v.__class__ is bool, 1, 1),
    "ISTEXT": ("scalar", lambda v: v.__class__ is str, 1, 1),
    "ISLOGICAL": ("scalar", lambda v: v.__class__ is bool, 1, 1),
    "ISBLANK": ("scalar", lambda v: v is None, 1, 1),
    "ISERROR": ("scalar", lambda v: v.__class__ is ExcelError, 1, 1),
    "ISNA": ("scalar", lambda v: v.__class__ is ExcelError and v.code == "#N/A", 1, 1),
    "COUNT": ("ref", _count, 0, _MANY),
    "COUNTA": ("ref", _counta, 1, _MANY),
    "SUM": ("ref", _sum, 0, _MANY),
    "SUMSQ": ("ref", _sumsq, 1, _MANY),
    "MAX": ("ref", _max, 1, _MANY),
    "MIN": ("ref", _min, 1, _MANY),
    "AVERAGE": ("ref", _average, 1, _MANY),
    "PRODUCT": ("ref", _product, 1, _MANY),
    "AND": ("ref", _logical(all), 1, _MANY),
    "OR": ("ref", _logical(any), 1, _MANY),
    "SUMPRODUCT": ("array", _sumproduct, 1, _MANY),
    "IF": ("lazy", _if, 1, 3),
    "IFERROR": ("lazy", _iferror, 2, 2),
}
# Google Sheets' names for functions Excel spells otherwise: its exports carry them, and they compute there.
# (validate's lint still names them: Excel itself would show #NAME?.)
FUNCTIONS["POW"] = FUNCTIONS["POWER"]
