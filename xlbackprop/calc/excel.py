"""Excel's rules where they differ from Calc's (values.py lists them), for a workbook that Excel saved: its
cached values are Excel's, so they are judged by Excel's rules (a correct Excel value is never stale).

    rules("excel") -> (functions, operators) for closures.Compiler; rules("calc") -> Calc's (the default)
    program_rules("Microsoft Excel") -> "excel"   (docProps/app.xml's Application names the program)

Differences: a text argument of SUM, SUMSQ, MAX, MIN, AVERAGE or PRODUCT that reads as a number counts
(SUM("3") is 3; Calc: #VALUE!); TRUE and FALSE inside a range are skipped (Calc counts them as 1 and 0);
TRUE&"" is "TRUE" (Calc: "1"); 0^0 is #NUM! and 0^-1 is #DIV/0! (Calc: 1 and #NUM!); LN, LOG and SQRT of an
argument outside their domain give #NUM! (Calc: #VALUE!).
"""

import math
from functools import partial

from xlbackprop.calc.closures import OPERATORS, _arith, power
from xlbackprop.calc.functions import (
    _MANY, FUNCTIONS, _average, _each_number as _calc_each, _ln, _log, _max, _min, _numeric, _product, _sum,
    _sumsq,
)
from xlbackprop.calc.values import DIV0, NUM, ExcelError, first_error, to_number, to_text

DIALECTS = ("calc", "excel")


def excel_power(x, y):
    """x^y as Excel computes it: 0^0 is #NUM!, 0 to a negative power #DIV/0!, else as Calc."""
    if x == 0.0 and y <= 0.0:
        return NUM if y == 0.0 else DIV0
    return power(x, y)


def _each(args, visit):
    """Excel's aggregate arguments: booleans in ranges skipped, a text argument counted when it reads as a
    number (SUM("3") is 3), #VALUE! when it does not."""
    return _calc_each(args, visit, text=to_number, bools=False)


def _text(v):
    if v.__class__ is bool:
        return "TRUE" if v else "FALSE"
    return to_text(v)


def _concat(a, b):
    if a.__class__ is ExcelError or b.__class__ is ExcelError:
        return first_error(b, a)
    return _text(a) + _text(b)


_EXCEL_FUNCTIONS = {
    **FUNCTIONS,
    "LN": ("scalar", _numeric(_ln, NUM), 1, 1),
    "LOG": ("scalar", _numeric(_log, NUM), 1, 2),
    "LOG10": ("scalar", _numeric(_log, NUM), 1, 1),
    "SQRT": ("scalar", _numeric(math.sqrt, NUM), 1, 1),
    "POWER": ("scalar", _numeric(excel_power), 2, 2),
    "SUM": ("ref", partial(_sum, each=_each), 0, _MANY),
    "SUMSQ": ("ref", partial(_sumsq, each=_each), 1, _MANY),
    "MAX": ("ref", partial(_max, each=_each), 1, _MANY),
    "MIN": ("ref", partial(_min, each=_each), 1, _MANY),
    "AVERAGE": ("ref", partial(_average, each=_each), 1, _MANY),
    "PRODUCT": ("ref", partial(_product, each=_each), 1, _MANY),
}
_EXCEL_FUNCTIONS["POW"] = _EXCEL_FUNCTIONS["POWER"]
_EXCEL_OPERATORS = {**OPERATORS, "^": _arith(excel_power), "&": _concat}


def rules(dialect="calc"):
    """(functions, operators) of the program `dialect` names."""
    if dialect == "calc":
        return FUNCTIONS, OPERATORS
    if dialect != "excel":
        raise ValueError(f"no such dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    return _EXCEL_FUNCTIONS, _EXCEL_OPERATORS


def program_rules(application):
    """The dialect whose rules made a file's cached values, from the program that saved it (app.xml's
    Application: "Microsoft Excel", "LibreOffice/7.6...$Linux", ...); None when the program is not known, so
    the caller allows both where they differ."""
    name = (application or "").casefold()
    if "compatible" in name:  # "Microsoft Excel Compatible / Openpyxl": a library wrote it, no program computed
        return None
    if "excel" in name:
        return "excel"
    if "libreoffice" in name or "openoffice" in name or name.startswith("calc"):
        return "calc"
    return None
