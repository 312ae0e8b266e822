"""Formula text -> Form (its tree and compiled closure), once per relative form of a book's formulas.

A shared formula's cells all take their group's Form; other formulas are tokenized and keyed by their
relative form (parse.relative_key), except that a formula filled down a column is recognised from the one
above by its digits alone. Defined names are compiled per sheet (a name may be scoped to one sheet).
"""

import re

from xlbackprop.calc.closures import Compiler
from xlbackprop.calc.excel import rules
from xlbackprop.calc.parse import ParseError, parse, parse_tokens, relative_key, tokens


class Form:
    """One relative form of a formula: its tree and its compiled closure."""

    __slots__ = ("tree", "fn")

    def __init__(self, tree, fn):
        self.tree, self.fn = tree, fn


class Program:
    """A book's formulas compiled: one Form per distinct relative form, one closure per defined name."""

    def __init__(self, book, dialect="calc"):
        self.book, self.dialect = book, dialect
        self.sheet_index = {s.name.casefold(): i for i, s in enumerate(book.sheets)}
        functions, operators = rules(dialect)
        self.compiler = Compiler(self.sheet_index, functions, self.name_closure, operators)
        self.by_key = {}
        self.by_group = {}
        self.copies = {}  # (column, text without its digits) -> the latest form seen there, see form()
        self.names = {}
        self.defined = {}
        for key, text in book.names.items():
            scope, _, name = key.rpartition("!")
            self.defined[(scope.casefold() or None, name.casefold())] = text

    def form(self, text, row, col):
        """The Form of a formula standing in (row, col). A formula filled down a column without being
        stored as a shared formula is recognised from the last one seen in its column by its digits alone
        (same text around them, relative row numbers moved by the distance), a tenth of tokenizing it."""
        text = text[1:] if text.startswith("=") else text
        parts = _DIGIT_RUNS.split(text)
        where, numbers = (col, "\x00".join(parts[0::2])), parts[1::2]
        seen = self.copies.get(where)
        if seen is not None:
            anchor, base, moves, form = seen
            d = row - anchor
            # As text, not as numbers: 0.05 and 0.5 have the same text around the digit runs "05" and "5"
            if numbers == [str(int(b) + d) if m else b for b, m in zip(base, moves)]:
                return form
        try:
            toks = tokens(text)
        except ParseError as exc:
            return self._bad(f"the formula cannot be read ({exc})")
        key = relative_key(toks, row, col)
        form = self.by_key.get(key)
        if form is None:
            try:
                tree = parse_tokens(toks, row, col)
                built = self.compiler.build(tree)
            except ParseError as exc:
                return self._bad(f"the formula cannot be read ({exc})")
            except RecursionError:  # the compiler recurses per operator: ---...-1, A1+A1+...+A1 (fuzz)
                return self._bad("the formula is nested too deeply to compute")
            form = self.by_key[key] = Form(tree, built)
        moves = _row_moves(toks)
        if len(moves) == len(numbers):
            self.copies[where] = (row, numbers, moves, form)
        return form

    def array_form(self, text):
        """The Form of an array formula ({=SUM(A1:A3*B1:B3)}, a dynamic array): not computed here, since
        computing it as an ordinary formula gives a scalar by implicit intersection, another number. It is
        uncomputable and says why; LibreOffice's copy, when there is one, computes it as an array."""
        return self._bad(f"an array formula {{={text}}}: the evaluator does not compute array formulas")

    def _bad(self, reason):
        tree = ("bad", reason, True)
        return Form(tree, self.compiler.build(tree))

    def cell_form(self, sheet, key):
        """The Form of a formula cell of the file: a shared formula's cells all use their group's."""
        group = sheet.shared.get(key)
        if group is None:
            return self.form(sheet.formulas[key], *key)
        form = self.by_group.get(id(group))
        if form is None:
            r0, c0 = group[0], group[1]
            form = self.by_group[id(group)] = (group, self.form(sheet.formula(r0, c0), r0, c0))
        return form[1]

    def name_tree(self, sheet_index, sheet, name):
        """The tree of a defined name as a formula on sheet `sheet_index` reads it (a name scoped to that
        sheet first), relative to A1; None when the book does not define it."""
        scope = sheet if sheet is not None else self.book.sheets[sheet_index].name
        text = self.defined.get((scope.casefold(), name)) or self.defined.get((None, name))
        if text is None:
            return None
        try:
            return parse(text, 1, 1)
        except ParseError as exc:
            return ("bad", f"the defined name {name} cannot be read ({exc})", True)

    def name_closure(self, sheet_index, sheet, name, mode):
        key = (sheet_index, sheet, name, mode)
        if key not in self.names:
            tree = self.name_tree(sheet_index, sheet, name)
            self.names[key] = None if tree is None else self.compiler.build(tree, mode)
        return self.names[key]


_DIGITS = re.compile(r"\d+")
_DIGIT_RUNS = re.compile(r"(\d+)")
_RELATIVE_ROW = re.compile(r"(?<![$\d])\d+")


def _row_moves(toks):
    """For each run of digits in the formula: 1 when it is a relative row number (it grows by one when the
    formula is copied one row down), else 0."""
    moves = []
    for kind, text in toks:
        if kind == "cell" or kind == "area":
            relative = {m.start() for m in _RELATIVE_ROW.finditer(text)}
            moves.extend(1 if m.start() in relative else 0 for m in _DIGITS.finditer(text))
        else:
            moves.extend(0 for _ in _DIGITS.finditer(text))
    return moves
