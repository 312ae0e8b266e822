"""The project's own spreadsheet formula evaluator: what a workbook's formulas compute, from its own inputs.

    from xlbackprop.calc import recalculate, ExcelError
    calc = recalculate(read_workbook(path))
    calc.value("Sheet1", 28, 11)      # float | str | bool | ExcelError | None
    calc.uncomputable                 # {(sheet, row, col): why the evaluator cannot compute it}

Modules: parse (text -> tree), closures (tree -> Python closure), functions, values (Calc's number and
conversion rules), engine (dependency order, circles, what-ifs), fallback (LibreOffice for the rest).
"""

from xlbackprop.calc.engine import Calc, WhatIf, recalculate
from xlbackprop.calc.fallback import recalculated_copies
from xlbackprop.calc.values import ExcelError, Uncomputable

__all__ = ["Calc", "ExcelError", "Uncomputable", "WhatIf", "recalculate", "recalculated_copies"]
