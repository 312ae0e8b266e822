"""Hostile and broken uploads made from real workbooks, for the fuzz test (tests/test_fuzz_uploads.py) and its
longer run (benchmarks/bench_fuzz.py): bytes truncated or flipped, parts dropped, duplicated or renamed,
attribute values and numbers no spreadsheet writes, deep nesting, garbage formulas.

Each mutant is validated in a child process (`python -m tests.upload_mutants`), which prints one JSON line
per file: its peak memory is its own, and a hang is killed from outside and named by the last line.
"""

import argparse
import dataclasses
import io
import itertools
import json
import random
import re
import resource
import sys
import time
import traceback
import zipfile
import zlib
from pathlib import Path

MIB = 2**20


def sources(folder):
    """Small real workbooks to mutate: generate's (styles, shared strings, a chart) and two hand-made ones
    written by xlsxwriter (formulas with cached values, one of them with a mistake)."""
    from tests.wb_fixtures import one_table, simulate
    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import preset

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generated = folder / "generated.xlsx"
    write_workbook(dataclasses.replace(preset("era"), learning_rates=(0.5,), iterations=3), generated)
    right = one_table(folder / "hand.xlsx", rows=simulate(rows=3))
    wrong = one_table(folder / "hand_wrong.xlsx", rows=simulate(rows=3, mistakes={
        "E1": lambda e: (e["t1"] - e["a_o1"]) ** 2}), top=3, left=2)
    return [generated, right, wrong]


# --- mutations: each fn(rng, data) -> (what was done, new bytes) -------------------------------------------

def _parts(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def _zip(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts:
            z.writestr(name, body)
    return out.getvalue()


def truncate(rng, data):
    at = rng.randrange(1, len(data))
    return f"truncated at byte {at}", data[:at]


def flip_bytes(rng, data):
    data = bytearray(data)
    where = [rng.randrange(len(data)) for _ in range(rng.randint(1, 20))]
    for i in where:
        data[i] ^= 1 << rng.randrange(8)
    return f"{len(where)} bits flipped", bytes(data)


def drop_part(rng, data):
    parts = _parts(data)
    name, _ = parts.pop(rng.randrange(len(parts)))
    return f"{name} dropped", _zip(parts)


def duplicate_part(rng, data):
    parts = _parts(data)
    name, body = rng.choice(parts)
    other = rng.choice(parts)[1] if rng.random() < 0.5 else body
    return f"{name} twice", _zip(parts + [(name, other)])


def swap_parts(rng, data):
    parts = _parts(data)
    i, j = rng.sample(range(len(parts)), 2)
    (a, x), (b, y) = parts[i], parts[j]
    parts[i], parts[j] = (a, y), (b, x)
    return f"{a} and {b} swapped", _zip(parts)


def _xml_mutation(fn):
    """Apply fn(rng, text) -> (what, text) to one XML part, a worksheet twice as often as any other."""
    def mutate(rng, data):
        parts = _parts(data)
        xml = [i for i, (n, _) in enumerate(parts) if n.endswith((".xml", ".rels"))]
        sheets = [i for i in xml if "worksheets/" in parts[i][0]]
        i = rng.choice(sheets * 2 + xml)
        name, body = parts[i]
        what, text = fn(rng, body.decode("utf-8", "replace"))
        parts[i] = (name, text.encode("utf-8", "surrogatepass"))
        return f"{name}: {what}", _zip(parts)
    mutate.__name__ = fn.__name__
    return mutate


BAD_VALUES = ["", "-1", "0", "A0", "ZZZZ1", "XFE1", "A1048577", "A99999999999999999999", "1e309", "NaN", "-0",
              "9" * 400, "&#0;", "&#x110000;", "&undefined;", "\u202e", "s", "shared", "x" * 5000, "A1:B", ":"]


@_xml_mutation
def bad_attribute(rng, text):
    attrs = list(re.finditer(r'(\s[\w:]+)="([^"]*)"', text))
    if not attrs:
        return "no attribute", text
    m = rng.choice(attrs)
    value = rng.choice(BAD_VALUES)
    return f"{m.group(1).strip()}={value[:20]!r}", text[:m.start(2)] + value + text[m.end(2):]


HUGE = ["1e308", "1e309", "-1e309", "1e-400", "inf", "-inf", "nan", "9" * 5000, "0x1F", "1_000", "  3  ", "",
        "1e", "--1", "4.9e-324", "179769313486231570000000000000000000000000000000000000000000000000000000" * 5]


@_xml_mutation
def huge_number(rng, text):
    values = list(re.finditer(r"<v>([^<]*)</v>", text))
    if not values:
        return "no value", text
    for m in sorted(rng.sample(values, min(len(values), rng.randint(1, 5))), key=lambda m: -m.start()):
        text = text[:m.start(1)] + rng.choice(HUGE) + text[m.end(1):]
    return "numbers no spreadsheet writes", text


@_xml_mutation
def deep_nesting(rng, text):
    n = rng.choice([100, 5_000, 100_000])
    tag = rng.choice(["x", "c", "row", "v", "is"])
    at = text.find("<sheetData>") + len("<sheetData>") if "<sheetData>" in text else rng.randrange(len(text))
    return f"{n} nested <{tag}>", text[:at] + f"<{tag}>" * n + f"</{tag}>" * n + text[at:]


@_xml_mutation
def break_markup(rng, text):
    at = rng.randrange(len(text))
    junk = rng.choice(["<", ">", "&", "</c>", "<c>", '"', "<!--", "]]>", "<?x?>", "\x00", "<c r="])
    return f"{junk!r} at {at}", text[:at] + junk + text[at:]


FORMULAS = ["(" * 5000 + "1" + ")" * 5000, "((((1", "1+", "SUM(A:A)", "SUM(A1:XFD1048576)", "A1", "B2*",
            "NOSUCHFUNCTION(1,2)", "1/0", "#REF!+1", "'No such sheet'!A1", "INDIRECT(\"A1\")", "OFFSET(A1,1,1)",
            "EXP(1000)", "EXP(EXP(EXP(10)))", "-" * 3000 + "1", "A1" + "+A1" * 3000, "\"text\"*2", "=1", "",
            "LOG(0)", "SQRT(-1)", "10^400", "MAX()", "IF(1,2", "R1C1", "A1:A3", "$A$1048577", "{1,2;3,4}",
            "_xlfn.NOSUCH(1)", "1e309", "TANH(\"x\")", "ISNUMBER(A1)"]


@_xml_mutation
def garbage_formula(rng, text):
    formulas = list(re.finditer(r"(<f[^>]*>)([^<]*)(</f>)", text))
    if not formulas:
        return "no formula", text
    picked = rng.sample(formulas, min(len(formulas), rng.randint(1, 8)))
    for m in sorted(picked, key=lambda m: -m.start()):
        text = text[:m.start(2)] + rng.choice(FORMULAS).replace("&", "&amp;").replace("<", "&lt;") + text[m.end(2):]
    return f"{len(picked)} formulas replaced", text


@_xml_mutation
def cell_type(rng, text):
    cells = list(re.finditer(r"<c r=\"[A-Z]+\d+\"", text))
    if not cells:
        return "no cell", text
    picked = rng.sample(cells, min(len(cells), rng.randint(1, 10)))
    kind = rng.choice(["s", "b", "e", "str", "inlineStr", "d", "n", "zz", ""])
    for m in sorted(picked, key=lambda m: -m.end()):
        text = text[:m.end()] + f' t="{kind}"' + text[m.end():]
    return f"{len(picked)} cells typed {kind!r}", text


@_xml_mutation
def shuffle_rows(rng, text):
    rows = re.findall(r"<row [^>]*>.*?</row>", text, flags=re.S)
    if len(rows) < 2:
        return "no rows", text
    start, end = text.find(rows[0]), text.find(rows[-1]) + len(rows[-1])
    shuffled = rows[:]
    rng.shuffle(shuffled)
    if rng.random() < 0.3:
        shuffled += shuffled[: rng.randint(1, len(shuffled))]  # and some twice
    return "rows out of order", text[:start] + "".join(shuffled) + text[end:]


@_xml_mutation
def drop_values(rng, text):
    text, n = re.subn(r"<v>[^<]*</v>", "", text)
    return f"{n} cached values dropped", text


@_xml_mutation
def truncate_xml(rng, text):
    at = rng.randrange(len(text))
    return f"cut at character {at}", text[:at]


MUTATIONS = [truncate, flip_bytes, drop_part, duplicate_part, swap_parts, bad_attribute, huge_number, deep_nesting,
             break_markup, garbage_formula, cell_type, shuffle_rows, drop_values, truncate_xml]


def mutant(rng, data):
    """One to three mutations in a row (most hostile files are broken in more than one way)."""
    whats = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        fn = rng.choice(MUTATIONS)
        try:
            what, data = fn(rng, data)
        except (zipfile.BadZipFile, ValueError, EOFError, KeyError, zlib.error):
            what = "(not a zip any more: nothing to mutate inside)"
        whats.append(f"{fn.__name__}: {what}")
    return "; ".join(whats), data


# --- the child process -----------------------------------------------------------------------------------

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (MIB if sys.platform == "darwin" else 1024)


def check(path, result):
    """Why the result is not a verdict or one clear line; None when it is."""
    from xlbackprop.validate import report
    from xlbackprop.validate.results import VERDICTS

    if result.verdict not in VERDICTS:
        return f"verdict {result.verdict!r}"
    if result.verdict == "unreadable":
        error = result.error or ""
        if "\n" in error or str(path) not in error:
            return f"not one line naming the file: {error!r}"
        if "please report it" in error:
            return f"an internal error: {error!r}"
    report.text_report(result)  # the report must render too
    report.one_line(result)
    return None


def mutants(seed, originals):
    """(k, source, what was done, bytes) for k = 0, 1, ...: the same sequence for the same seed and sources."""
    rng = random.Random(seed)
    data = {path: path.read_bytes() for path in originals}
    for k in itertools.count():
        source = rng.choice(originals)
        what, mutated = mutant(rng, data[source])
        yield k, source, what, mutated


def fuzz(seed, count, folder, extra=(), only=None):
    """Validate `count` mutants of the sources (and of the workbooks `extra`), printing a JSON line per mutant.
    `only`: validate mutant number `only` alone and keep its file (to reproduce a problem)."""
    from xlbackprop.validate.batch import validate_file

    folder = Path(folder)
    originals = sources(folder / "sources") + [Path(p) for p in extra]
    for path in originals:  # warm up: imports and the first torch call are not a mutant's cost
        validate_file(path)
    baseline = peak_mib()
    print(json.dumps({"baseline_mib": baseline}), flush=True)
    for k, source, what, data in itertools.islice(mutants(seed, originals), count if only is None else only + 1):
        if only is not None and k != only:
            continue
        path = folder / f"mutant-{seed}-{k}.xlsx"
        path.write_bytes(data)
        line = {"k": k, "source": source.name, "what": what[:300]}
        print(json.dumps({**line, "started": True}), flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            result = validate_file(path)
            problem = check(path, result)
            line.update(verdict=result.verdict, error=(result.error or "")[:300])
        except Exception:  # noqa: BLE001 -- exactly what the fuzz looks for
            problem = traceback.format_exc()[-2000:]
        line.update(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu, peak_mib=peak_mib(),
                    problem=problem)
        print(json.dumps(line), flush=True)
        if only is None:
            path.unlink()


def main():
    parser = argparse.ArgumentParser(description="validate mutants of small workbooks, one JSON line each")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--source", type=Path, action="append", default=[], help="another workbook to mutate")
    parser.add_argument("--only", type=int, help="validate this mutant alone and keep its file")
    args = parser.parse_args()
    fuzz(args.seed, args.count, args.folder, args.source, args.only)


if __name__ == "__main__":
    main()
