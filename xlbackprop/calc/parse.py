"""Formula text -> syntax tree, with Excel's grammar and precedence, references stored relative to an anchor.

A tree does not depend on the cell it stands in: a relative reference is kept as an offset from the anchor
cell, an absolute one as its row or column. So a formula filled down a column is one tree, and `relative_key`
gives the text that every copy of it shares (the engine parses and compiles once per key).

Precedence, tightest first: `:` (range), unary - and +, `%`, `^` (left to right: 2^3^2 is 64; -2^2 is 4),
`* /`, `+ -`, `&`, comparisons. Nodes are tuples:
    ("num", x) ("str", s) ("bool", b) ("err", code) ("missing",)        an omitted argument, IF(A1,,2)
    ("cell", sheet, row, col, row_abs, col_abs)                         row/col are offsets unless absolute
    ("area", sheet, r1, c1, r2, c2, r1_abs, c1_abs, r2_abs, c2_abs)     whole columns/rows are absolute spans
    ("name", sheet, name)                                               a defined name, lower case
    ("neg", x) ("pct", x) ("op", symbol, a, b) ("call", NAME, [args])
    ("bad", reason, fallback_ok)                                        an external link, a 3-D reference...
`sheet` is None for the formula's own sheet.

Tokenizer: our own single regex, not openpyxl.formula.Tokenizer, which is 3.4 to 4.5 times slower on the
student corpus (all 92,289 formula texts: 2.80 s here against 9.63 s in one run on a busy 2-core machine;
benchmarks/bench_calc.py --tokenizers) and still leaves a sheet prefix, a cell, a range and a defined name
alike as one RANGE operand for a second pass to split. The engine tokenizes far fewer texts
than that anyway (a shared formula once per group, a filled-down column once: forms.Program.form).
openpyxl's Translator is not needed either: references are kept as offsets, so nothing is rewritten.
"""

import re

from xlbackprop.calc.values import CODES
from xlbackprop.cells import col_index

MAX_ROW, MAX_COL = 1048576, 16384

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"]|"")*")
  | (?P<err>\#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!))
  | (?P<sheet>(?:'(?:[^']|'')+'|\[\d+\](?:[^\W\d][\w.]*)?|[^\W\d][\w.]*)(?::(?:'(?:[^']|'')+'|[^\W\d][\w.]*))?!)
  | (?P<area>\$?[A-Za-z]{1,3}\$?\d+:\$?[A-Za-z]{1,3}\$?\d+|\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?\d+:\$?\d+)
        (?![\w.(!])
  | (?P<cell>\$?[A-Za-z]{1,3}\$?\d+)(?![\w.(!])
  | (?P<func>[A-Za-z_\\][\w.]*)\s*\(
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[^\W\d][\w.?]*|\\[\w.?]*)
  | (?P<op><>|<=|>=|[-+*/^&=<>%(),:])
  | (?P<other>\S)
)""", re.VERBOSE)
_CELL = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")
_COLS = re.compile(r"(\$?)([A-Za-z]{1,3}):(\$?)([A-Za-z]{1,3})")
_ROWS = re.compile(r"(\$?)(\d+):(\$?)(\d+)")
_PREFIXES = ("_XLFN._XLWS.", "_XLFN.", "_XLWS.")


class ParseError(ValueError):
    pass


def tokens(text):
    """[(kind, text)] of a formula (without "="); ParseError at text the grammar has no token for."""
    out, pos, end = [], 0, len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        kind = m.lastgroup if m else None
        if kind is None:
            if text[pos:].strip():
                raise ParseError(f"unexpected text {text[pos:pos + 20]!r}")
            break
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def relative_key(toks, row, col):
    """The tokens as one text in which relative references are offsets from (row, col): the same for every
    copy of a formula filled across a table."""
    parts = []
    for kind, text in toks:
        if kind == "cell" or kind == "area":
            parts.append(_relative_text(text, row, col))
        else:
            parts.append(text)
        parts.append("\x1f" if kind == "str" else " ")
    return "".join(parts)


def _relative_text(text, row, col):
    def cell(m):
        cabs, letters, rabs, r = m.groups()
        rr = r if rabs else f"R[{int(r) - row}]"
        cc = letters.upper() if cabs else f"C[{col_index(letters) - col}]"
        return f"{rr}{cc}"
    if _CELL.match(text):
        return _CELL.sub(cell, text)
    m = _COLS.fullmatch(text)
    if m:
        a, c1, b, c2 = m.groups()
        return f"{a or 'C'}{col_index(c1) if a else col_index(c1) - col}:{b or 'C'}{col_index(c2) if b else col_index(c2) - col}"
    a, r1, b, r2 = _ROWS.fullmatch(text).groups()
    return f"{a or 'R'}{r1 if a else int(r1) - row}:{b or 'R'}{r2 if b else int(r2) - row}"


def parse(text, row=1, col=1):
    """The tree of a formula standing in (row, col); ParseError when it is not a formula."""
    text = text[1:] if text.startswith("=") else text
    return parse_tokens(tokens(text), row, col)


def parse_tokens(toks, row, col):
    p = _Parser(toks, row, col)
    try:
        node = p.comparison()
    except RecursionError:
        raise ParseError("formula nested too deeply") from None
    if p.pos != len(toks):
        raise ParseError(f"unexpected {toks[p.pos][1]!r}")
    return node


def sheet_name(prefix):
    """"'LR 0.1'!" -> "LR 0.1"."""
    name = prefix[:-1]
    return name[1:-1].replace("''", "'") if name.startswith("'") else name


class _Parser:
    def __init__(self, toks, row, col):
        self.toks, self.pos, self.row, self.col = toks, 0, row, col

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        if tok[0] is None:
            raise ParseError("formula ends too early")
        self.pos += 1
        return tok

    def expect(self, op):
        if self.take() != ("op", op):
            raise ParseError(f"expected {op!r}")

    def binary(self, ops, lower):
        node = lower()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            op = self.take()[1]
            node = ("op", op, node, lower())
        return node

    def comparison(self):
        return self.binary(("=", "<>", "<", ">", "<=", ">="), self.concat)

    def concat(self):
        return self.binary(("&",), self.additive)

    def additive(self):
        return self.binary(("+", "-"), self.term)

    def term(self):
        return self.binary(("*", "/"), self.power)

    def power(self):
        return self.binary(("^",), self.unary)

    def unary(self):
        kind, text = self.peek()
        if kind == "op" and text in ("+", "-"):
            self.take()
            node = self.unary()
            return ("neg", node) if text == "-" else node
        return self.percent()

    def percent(self):
        node = self.range()
        while self.peek() == ("op", "%"):
            self.take()
            node = ("pct", node)
        return node

    def range(self):
        node = self.primary()
        while self.peek() == ("op", ":"):
            self.take()
            node = _join(node, self.primary())
        return node

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            x = float(text)
            if 0.0 < x < 2.2250738585072014e-308:  # Calc refuses a subnormal literal (Err:504, #VALUE!)
                raise ParseError(f"the number {text} is too small for a spreadsheet")
            return ("num", x)
        if kind == "str":
            return ("str", text[1:-1].replace('""', '"'))
        if kind == "err":
            return ("err", text) if text in CODES else ("bad", f"the error value {text}", True)
        if kind == "op" and text == "(":
            node = self.comparison()
            if self.peek() == ("op", ","):
                raise ParseError("a union of references (A1,B2) is not supported")
            self.expect(")")
            return node
        if kind == "func":
            return self.call(text)
        if kind == "sheet":
            return self.qualified(text)
        if kind in ("cell", "area", "name"):
            return self.reference(None, kind, text)
        if kind == "other" and text == "{":
            raise ParseError("array constants {1,2} are not supported")
        raise ParseError(f"unexpected {text!r}")

    def qualified(self, prefix):
        kind, text = self.peek()
        if prefix.startswith(("[", "'[")):
            self.pos += kind is not None
            return ("bad", f"external reference {prefix}{text or ''}", False)
        self.take()
        if ":" in prefix:  # Sheet1:Sheet3!A1 (a sheet name cannot hold ':')
            return ("bad", f"3-D reference {prefix}{text}", True)
        if kind == "err":  # 'Sheet'!#REF! after a deleted cell
            return ("err", text) if text in CODES else ("bad", f"the error value {text}", True)
        if kind not in ("cell", "area", "name"):
            raise ParseError(f"expected a reference after {prefix!r}")
        return self.reference(sheet_name(prefix), kind, text)

    def reference(self, sheet, kind, text):
        if kind == "name":
            upper = text.upper()
            if sheet is None and upper in ("TRUE", "FALSE"):
                return ("bool", upper == "TRUE")
            if self.peek() == ("other", "["):
                return ("bad", f"structured reference {text}[...]", True)
            return ("name", sheet, text.lower())
        if kind == "cell":
            return self.cell(sheet, text)
        m = _COLS.fullmatch(text)
        if m:
            a, c1, b, c2 = m.groups()
            c1, c2 = self.axis(col_index(c1), a, self.col), self.axis(col_index(c2), b, self.col)
            return ("area", sheet, 1, c1, MAX_ROW, c2, True, bool(a), True, bool(b))
        m = _ROWS.fullmatch(text)
        if m:
            a, r1, b, r2 = m.groups()
            r1, r2 = self.axis(int(r1), a, self.row), self.axis(int(r2), b, self.row)
            return ("area", sheet, r1, 1, r2, MAX_COL, bool(a), True, bool(b), True)
        first, second = text.split(":")
        return _join(self.cell(sheet, first), self.cell(sheet, second))

    @staticmethod
    def axis(n, absolute, anchor):
        return n if absolute else n - anchor

    def cell(self, sheet, text):
        cabs, letters, rabs, r = _CELL.fullmatch(text).groups()
        c, r = col_index(letters), int(r)
        if c > MAX_COL or r > MAX_ROW or r < 1:
            return ("name", sheet, text.lower())
        return ("cell", sheet, self.axis(r, rabs, self.row), self.axis(c, cabs, self.col), bool(rabs), bool(cabs))

    def call(self, name):
        name = name.upper()
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        args = []
        if self.peek() == ("op", ")"):
            self.take()
            return ("call", name, args)
        while True:
            if self.peek() in (("op", ","), ("op", ")")):
                args.append(("missing",))
            else:
                args.append(self.comparison())
            kind, text = self.take()
            if (kind, text) == ("op", ")"):
                return ("call", name, args)
            if (kind, text) != ("op", ","):
                raise ParseError(f"expected ',' or ')' in {name}(), found {text!r}")


def _join(a, b):
    """a:b, two cells (or areas) of one sheet: the area spanning both."""
    if a[0] not in ("cell", "area") or b[0] not in ("cell", "area"):
        return ("bad", "a range between computed references (A1:INDEX(...))", True)
    if b[1] is not None and b[1] != a[1]:
        return ("bad", "a range across two sheets", True)
    (r1, c1, ra1, ca1), (r2, c2, ra2, ca2) = _corners(a)[0], _corners(b)[1]
    return ("area", a[1], r1, c1, r2, c2, ra1, ca1, ra2, ca2)


def _corners(node):
    if node[0] == "cell":
        _, _, r, c, ra, ca = node
        return (r, c, ra, ca), (r, c, ra, ca)
    _, _, r1, c1, r2, c2, ra1, ca1, ra2, ca2 = node
    return (r1, c1, ra1, ca1), (r2, c2, ra2, ca2)


def children(tree):
    """The operands of an operator or function node; () for a leaf."""
    kind = tree[0]
    if kind == "call":
        return tree[2]
    if kind == "op":
        return tree[2:]
    return tree[1:] if kind in ("neg", "pct") else ()
