"""Cell values as the evaluator sees them, and the number rules of LibreOffice Calc, which judges the evaluator.

A value is a float, a str, a bool, an ExcelError, or None for a blank cell. Calc has no boolean type (TRUE is
1 with a boolean format), so a bool counts as a number wherever LibreOffice reads one, ranges included.

Where Calc and Excel differ, Calc's rule is kept, since Calc is what the corpus test compares with:
  - a text argument typed into SUM/MAX/MIN/AVERAGE/PRODUCT ("3") is #VALUE! (Excel: 3);
  - TRUE and FALSE inside a summed range count as 1 and 0 (Excel skips them); TRUE&"" is "1" (Excel: "TRUE");
  - 0^0 is 1 and 0^-1 is #NUM! (Excel: #NUM! and #DIV/0!); LN, LOG and SQRT of a bad argument give #VALUE!
    (Excel: #NUM!); a power whose result underflows to 0 or a subnormal is #NUM!;
  - + and - snap a result that cancels to within 2^-48 of the operands to exactly 0 (rtl::math::approxAdd),
    = and <> compare numbers to that precision, INT and MOD round to 15 significant digits first;
  - text such as "1,000", "50%" or "TRUE" converts to a number in arithmetic; dates, times and currency
    texts also do in Calc, but not here: such a cell is uncomputable rather than guessed.
"""

import math
import re

from xlbackprop.errors import XlbackpropError

CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")


class ExcelError:
    """An error value (#DIV/0!, #N/A, ...): equal to another with the same code, never to a str.

    `produced` marks an error that an operation raised during this evaluation, as opposed to one only read
    from a cell or typed as a literal: Calc reports the first error an operation raised, so a produced error
    wins over a read one that stands to its left (=#N/A+1/0 is #DIV/0!, =A1+B1 is A1's error)."""

    __slots__ = ("code", "produced")

    def __init__(self, code, produced=False):
        self.code = code
        self.produced = produced

    def __eq__(self, other):
        return isinstance(other, ExcelError) and other.code == self.code

    def __hash__(self):
        return hash(self.code)

    def __repr__(self):
        return f"ExcelError({self.code!r})"

    def __str__(self):
        return self.code


READ = {code: ExcelError(code) for code in CODES}            # as stored in a cell
RAISED = {code: ExcelError(code, True) for code in CODES}     # as an operation returns it
DIV0, VALUE, REF, NAME, NUM, NA = (RAISED[c] for c in ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def raised(err):
    """The error as an operation passes it on (it now counts as raised here)."""
    return RAISED.get(err.code) or ExcelError(err.code, True)


def first_error(a, b):
    """The error Calc reports for an operation on a and b (at least one of them an ExcelError)."""
    ea, eb = isinstance(a, ExcelError), isinstance(b, ExcelError)
    if ea and (a.produced or not (eb and b.produced)):
        return raised(a)
    return raised(b)


def from_stored(value):
    """A value as read_workbook stores it (errors are text there) as the evaluator sees it."""
    if value.__class__ is str and value in READ:
        return READ[value]
    return value


def to_stored(value):
    """Back to read_workbook's convention: an error as its code text; "" and None as no value."""
    if isinstance(value, ExcelError):
        return value.code
    return None if value == "" and value.__class__ is str else value


class Uncomputable(XlbackpropError):
    """The evaluator cannot compute a cell (an unknown function, a circular reference, an external link...).

    `fallback_ok`: LibreOffice could compute what the evaluator cannot (an unknown function, a date typed as
    text), so a LibreOffice-recalculated copy of the file may supply the value."""

    def __init__(self, reason, fallback_ok=True):
        super().__init__(reason)
        self.reason = reason
        self.fallback_ok = fallback_ok


# ---- numbers: LibreOffice's rtl::math rules -------------------------------------------------------------

_E48 = 2.0 ** -48
_E44 = 2.0 ** -44
_MAX = 1.7976931348623157e308
_MIN_NORMAL = 2.2250738585072014e-308


def _is_int(x):
    return x == math.floor(x) and x < 2.0 ** 53


def approx_equal(a, b):
    """rtl::math::approxEqual: equal to about 14 significant digits."""
    if a == b:
        return True
    if a == 0.0 or b == 0.0:
        return False
    d = abs(a - b)
    if not d < math.inf:
        return False
    a, b = abs(a), abs(b)
    if d > a * _E44 or d > b * _E44:
        return False
    if _is_int(d) and _is_int(a) and _is_int(b):
        return False
    return d < a * _E48 and d < b * _E48


def approx_add(a, b):
    """a + b, exactly 0 when the two cancel to Calc's precision (0.1+0.2-0.3 is 0 in Calc)."""
    x = a + b
    if ((a < 0.0 < b) or (b < 0.0 < a)) and abs(x) <= _E48 * max(abs(a), abs(b)) and approx_equal(a, -b):
        return 0.0
    return x if -_MAX <= x <= _MAX else NUM


def approx_sub(a, b):
    x = a - b
    if ((a < 0.0 and b < 0.0) or (a > 0.0 and b > 0.0)) and abs(x) <= _E48 * max(abs(a), abs(b)) \
            and approx_equal(a, b):
        return 0.0
    return x if -_MAX <= x <= _MAX else NUM


def approx_value(x):
    """rtl::math::approxValue: x rounded to 15 significant digits, unless it is exact enough already."""
    if x == 0.0 or not abs(x) < 2199023255552.0:  # 2^41: too few fraction bits left to be worth rounding
        return x
    a = abs(x)
    if _is_int(a) or (a * 2048.0).is_integer():  # at most 11 bits of fraction
        return x
    e = 14 - math.floor(math.log10(a))
    f = 10.0 ** abs(e)
    y = a * f if e >= 0 else a / f
    if not y < math.inf:
        return x
    y = math.floor(y + 0.5)
    y = y / f if e >= 0 else y * f
    return math.copysign(y, x) if y < math.inf else x


def approx_floor(x):
    return float(math.floor(approx_value(x)))


def checked(x):
    """A float result, or #NUM! when it overflowed (Calc has no infinities)."""
    return x if -_MAX <= x <= _MAX else NUM


class KahanSum:
    """Calc's SUM accumulator (sc/inc/kahan.hxx): Neumaier summation that holds back the latest term, so the
    final addition cancels to exactly 0 as approx_add does (SUM(1E16,1,-1E16) is 0 in Calc)."""

    __slots__ = ("total", "error", "held")

    def __init__(self):
        self.total = self.error = self.held = 0.0

    def add(self, x):
        if x == 0.0:
            return
        if self.held:
            m, s = self.held, self.total
            t = s + m
            self.error += (s - t) + m if abs(s) >= abs(m) else (m - t) + s
            self.total = t
        self.held = x

    def get(self):
        whole = self.total + self.error
        m = self.held
        if not m:
            return whole
        if ((m < 0.0 < whole) or (whole < 0.0 < m)) and approx_equal(m, -whole):
            return 0.0
        self.add(m)
        self.held = 0.0
        return self.total + self.error


# ---- conversions ----------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"\s*([-+]?)(\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                      r"\s*(%?)\s*")
_LOOKS_LIKE_DATE = re.compile(r"\d\s*[/:\-]\s*\d|[$€£¥]|\(\s*[\d.]")


def text_to_number(text):
    """A text's number as Calc's arithmetic reads it; #VALUE! when it is no number. Dates, times and currency
    are read by Calc through the locale: rather than guess, they raise Uncomputable (a fallback may help)."""
    m = _DECIMAL.fullmatch(text)
    if m:
        sign, digits, pct = m.groups()
        x = float(digits.replace(",", ""))
        x = -x if sign == "-" else x
        x = x / 100.0 if pct else x
        return max(-_MAX, min(_MAX, x))  # Calc reads "1e400" as the largest number
    word = text.strip().upper()
    if word in ("TRUE", "FALSE"):
        return 1.0 if word == "TRUE" else 0.0
    if _LOOKS_LIKE_DATE.search(text):
        raise Uncomputable(f"the text {text[:40]!r} is read as a number by the spreadsheet's locale "
                           "(a date, time or currency), which the evaluator does not do")
    return VALUE


def to_number(v):
    """A value in arithmetic: float, or an ExcelError (raised) when it is none."""
    cls = v.__class__
    if cls is float:
        return v
    if v is None:
        return 0.0
    if cls is bool:
        return 1.0 if v else 0.0
    if cls is str:
        return text_to_number(v)
    if cls is ExcelError:
        return raised(v)
    return float(v)


def number_text(x):
    """A number as Calc writes it into text (="x"&A1): 15 significant digits, the exponent as E+020."""
    if x == 0.0:
        return "0"
    if x.is_integer() and abs(x) < 2.0 ** 53:
        return str(int(x))
    mant, exp = (f"{x:.14e}").split("e")
    e = int(exp)
    if e <= -15 or e >= 15:
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}E{'-' if e < 0 else '+'}{abs(e):03d}"
    text = f"{x:.{max(0, 14 - e)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def to_text(v):
    cls = v.__class__
    if cls is str:
        return v
    if v is None:
        return ""
    if cls is bool:
        return "1" if v else "0"
    if cls is float:
        return number_text(v)
    if cls is ExcelError:
        return raised(v)
    return str(v)


def to_bool(v):
    """A condition (IF, AND, NOT): True/False, or an ExcelError."""
    if v is None:
        return False
    if v.__class__ is bool:
        return v
    x = to_number(v)
    return x if isinstance(x, ExcelError) else x != 0.0
