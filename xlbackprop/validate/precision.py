"""How far a number may be from its formula's value without being a mistake, from the precision it is stored with.

A formula cell is recomputed by the evaluator, so it carries only arithmetic noise. A typed number carries the
rounding of the text it was stored as: half a unit in its last place, where the place is the column's (the
longest number a column of pasted values holds says how many digits were kept: a short 0.03 among 10-digit
numbers is a typed mistake, not a rounding). A cell's tolerance is that rounding of each input, propagated
through the cell's own formula to first order (the sum of |d value / d input| x rounding of the input), plus
its own rounding and the arithmetic noise of the formula itself.
"""

import math
import re
import struct
from dataclasses import dataclass
from decimal import Decimal

EPS = 2.0 ** -52
# One formula evaluated by two engines (ours, LibreOffice, Excel, torch) in a different order differs by a few
# units in the last place of the terms it combines; 32 covers a sum of a dozen terms with room to spare.
LOCAL_NOISE = 32 * EPS
# The reference run and the spreadsheet each round at every step for hundreds of iterations: measured drifts
# stay under 1e-12 relative (xor at lr 4 after 300 steps); a billionth is noise, not a mistake.
REFERENCE_NOISE = 1e-9
# A constant typed again down a column (or made by fill-down, or by =D117+0) may come back as 0.989999999999999
# for 0.99: a difference of a few units in the 15th digit is the same number typed twice, not a new one. A real
# change of a constant (0.99 -> 0.991) is 1e-3 relative, nine orders of magnitude above this.
CONSTANT_RTOL = 1e-12


def digits(x):
    """(significant digits, decimals) of the shortest text that gives back x: 0.5068745668 -> (10, 10)."""
    if x == 0 or not math.isfinite(x):
        return 1, 0
    sign, ds, exponent = Decimal(repr(float(x))).normalize().as_tuple()
    return len(ds), -exponent


@dataclass(frozen=True)
class Rounding:
    """A column's stored precision: its longest number's significant digits and decimals (None: exact)."""
    sig: int | None = None
    decimals: int | None = None

    def unit(self, x):
        """Half a unit in the last place the column keeps, at x (0 for exact columns)."""
        if self.sig is None or x is None or not math.isfinite(x):
            return 0.0
        by_sig = 0.5 * 10.0 ** (math.floor(math.log10(abs(x))) - self.sig + 1) if x else 0.0
        return max(by_sig, 0.5 * 10.0 ** -self.decimals)


EXACT = Rounding()


def own_unit(x):
    """Half a unit in the last place of x as written (0.51 -> 0.005): a number that says its own precision."""
    return Rounding(*digits(x)).unit(x)


# The digits a table keeps are those of its longest numbers but this share: one value typed with 17 digits into
# a table pasted with 6 (a wrong number, say) does not make the other cells' roundings exact, while a short
# number typed among formulas stored with 17 digits (1 cell in hundreds) is still judged as a typed mistake.
LONGEST_EXCEPT = 0.05


def rounding_of(numbers):
    """The Rounding that explains a column's typed numbers: numbers written with fewer digits than the longest
    ones (all but the longest 1 in 20) were rounded at least as much."""
    numbers = [x for x in numbers if x is not None and x != 0 and math.isfinite(x)]
    if not numbers:
        return EXACT
    sig, dec = zip(*(digits(x) for x in numbers))
    at = len(numbers) - 1 - int(LONGEST_EXCEPT * len(numbers))
    # (8 digits at least: every decimal of 7 digits or fewer is float32's shortest text for some float32)
    if sorted(sig)[at] >= 8 and sum(not _single_precision(x) for x in numbers) <= len(numbers) - 1 - at:
        return Rounding(FLOAT32_DIGITS, sorted(dec)[at])
    return Rounding(sorted(sig)[at], sorted(dec)[at])


# Numbers written from a float32 run (NumPy's or PyTorch's default) look exact at 17 digits, or as float32's
# shortest text at 8-9, but are good to about 7 (2^-24 relative), a few units more after a float32 formula:
# 6 significant digits hold them, and the class template's bug (2.6e-4) still shows. As for the digits, all
# but 1 in 20 say so: one double typed among them is judged at these digits, not the column at the double's.
FLOAT32_DIGITS = 6


def _single_precision(x):
    """True when x is a float32 number (to 15 digits), or float32's shortest text for one."""
    if not abs(x) < 3e38:
        return False
    single = struct.unpack("f", struct.pack("f", x))[0]
    # (Excel writes 15 digits of it: as close as that to a float32 number, which a double is by chance 1 in 1e7)
    return abs(single - x) <= 1e-14 * abs(x) or _shortest_single(single) == x


def _shortest_single(single):
    """The shortest decimal that reads back as the float32 `single` (what NumPy prints for it)."""
    for p in range(1, 10):
        text = float(f"{single:.{p}g}")
        if struct.unpack("f", struct.pack("f", text))[0] == single:
            return text
    return single


def coarser(a, b):
    """A Rounding that keeps no more digits than either (an exact one says nothing: the other stands)."""
    if a.sig is None or b.sig is None:
        return b if a.sig is None else a
    return Rounding(min(a.sig, b.sig), min(a.decimals, b.decimals))


def tolerance(expected, grads, inputs, units, own_unit, noise, floor=0.0):
    """Allowed |found - expected| for a value computed from `inputs` (name -> number) whose partial derivatives
    are `grads` and whose stored roundings are `units` (name -> half a unit in the last place). `floor`: the
    size below which an input's noise does not shrink (1 for a logarithm: LN(1-a) loses an eps of the 1 in 1-a,
    not of a)."""
    carried = sum(abs(g) * (units.get(n, 0.0) + noise * max(abs(inputs.get(n) or 0.0), floor))
                  for n, g in grads.items())
    # Second order: where the first derivative vanishes at the stored point (E = 1/2 (t - a)^2 with a stored as
    # exactly t, 0.5 for 0.49999999502), the rounding still moves the value by about its square; the second
    # derivatives of these formulas are 2 at most, so the square of the summed roundings bounds it.
    rounding = sum(units.get(n, 0.0) for n in grads)
    curved = rounding * rounding  # (** raises on overflow where * gives inf, as the other terms do)
    return carried + curved + own_unit + noise * abs(expected)


def constant_tolerance(given, rounding):
    """How far a constant repeated down a column may be from its first value: 1e-12 relative, or the stored
    rounding of the file at that number when larger (a file that keeps 10 digits keeps them for constants too).
    Never exact equality."""
    return max(CONSTANT_RTOL * abs(given), rounding.unit(given))


_ROUNDS = "ROUND|ROUNDUP|ROUNDDOWN|TRUNC|FLOOR|CEILING|MROUND"
_ROUND_CALL = re.compile(rf"\b({_ROUNDS})\s*\(", re.IGNORECASE)
# Any way of rounding a spreadsheet offers, the digits spelt or not (ROUND(x,$E$1), MROUND(x,0.0001),
# INT(x*10^4+0.5)/10^4, VALUE(FIXED(x,4))): where the digits are not spelt, the column's rounded values say
# them (columns._column_rounding), when they keep this many significant digits or fewer (a double has 15-17).
_ANY_ROUNDING = re.compile(rf"\b({_ROUNDS}|INT|FIXED|TEXT)\s*\(", re.IGNORECASE)
ROUNDED_DIGITS = 8


def _args(text, start):
    """(the top-level arguments of the call whose "(" is at text[start], the index after its ")")."""
    depth, args, begin, i, quoted = 0, [], start + 1, start, False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                args.append(text[begin:i])
                return args, i + 1
        elif not quoted and depth == 1 and ch in ",;":
            args.append(text[begin:i])
            begin = i + 1
        i += 1
    return args, len(text)


def _decimal_roundings(text):
    """(function, decimals kept, whether it rounds the whole formula) for each ROUND, ROUNDUP, ROUNDDOWN or TRUNC
    of `text` (without its "=") whose digits are typed in it: ROUND(x, A1) keeps digits the text does not say, and
    FLOOR, CEILING, MROUND round to a multiple, not to decimals."""
    for m in _ROUND_CALL.finditer(text):
        args, end = _args(text, m.end() - 1)
        fn = m.group(1).upper()
        if fn in ("FLOOR", "CEILING", "MROUND"):
            continue
        try:
            d = int(float(args[1])) if len(args) > 1 else 0
        except ValueError:
            continue
        yield fn, d, m.start() == 0 and end == len(text)


def rounds(formula):
    """True when the formula calls a rounding function (ROUND, TRUNC, FLOOR, INT, FIXED, ...)."""
    return bool(_ANY_ROUNDING.search(formula or ""))


def without_rounding_digits(formula):
    """The formula with the digits argument of each ROUND, ROUNDUP, ROUNDDOWN and TRUNC left out
    (ROUND(E5-$B$1*X5,6) -> ROUND(E5-$B$1*X5)): a count of digits, not a number the formula computes with."""
    text, out, k = formula or "", [], 0
    for m in _ROUND_CALL.finditer(text):
        if m.start() < k or m.group(1).upper() not in ("ROUND", "ROUNDUP", "ROUNDDOWN", "TRUNC"):
            continue  # inside a call already rewritten, or rounding to a multiple
        args, end = _args(text, m.end() - 1)
        if len(args) < 2:
            continue
        out += [text[k:m.end()], without_rounding_digits(args[0]), ")"]
        k = end
    return "".join(out) + text[k:]


def rounding_digits(formula):
    """The decimals each ROUND, ROUNDUP, ROUNDDOWN or TRUNC of the formula keeps, where typed in it."""
    return [d for _, d, _ in _decimal_roundings((formula or "").lstrip("=").strip())]


def formula_rounding(formula, value):
    """Half a unit (a whole unit for ROUNDUP, ROUNDDOWN, TRUNC) in the last decimal a formula's ROUND(x, d)
    keeps, at its value; 0 for a formula that rounds nothing. A formula that is one ROUND of the whole step
    keeps that unit; a ROUND inside a larger formula is carried by what multiplies it: allowed at the size of
    the value with a margin (the rounded part is at most the value's own size in these formulas)."""
    if not formula:
        return 0.0
    unit, whole = 0.0, False
    for fn, d, rounds_all in _decimal_roundings(formula.lstrip("=").strip()):
        unit = max(unit, (0.5 if fn == "ROUND" else 1.0) * 10.0 ** -d)
        whole = whole or rounds_all
    if not unit:
        return 0.0
    return unit if whole else 4 * unit * max(1.0, abs(value or 0.0))
