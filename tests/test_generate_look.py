"""How the generated workbook looks to a teacher: column groups with titles and colours, number formats,
widths that fit the labels, frozen panes, print setup, the legend, the Summary's formats and chart."""

import zipfile

import openpyxl
import pytest

from xlbackprop.generate import write_workbook
from xlbackprop.layout import FIRST_ROW, GROUP_ROW, HEADER_ROW, Group, make_layout, summary_rows
from xlbackprop.network import quantities
from xlbackprop.spec import preset
from xlbackprop.workbook_write import (_PRINTABLE_PT, BANDS, NUMBER_FORMAT, PRINT_SCALE, SCIENTIFIC, column_page_breaks,
                                       column_width_pt, legend)

GROUP_OF_LABEL = {"i1": "data", "t2": "data", "w1": "weights", "w8": "weights", "h1": "forward", "a_o2": "forward",
                  "E1": "error", "E_total": "error", "∂E_total/∂o1": "deltas", "∂E_total/∂h2": "deltas",
                  "∂E_total/∂w1": "gradients", "∂E_total/∂w8": "gradients"}


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    spec = preset("era").with_(iterations=12, learning_rates=(0.5, 2.0))
    path = tmp_path_factory.mktemp("look") / "era.xlsx"
    write_workbook(spec, path)
    return spec, path, openpyxl.load_workbook(path)


def _header(ws):
    return {ws.cell(HEADER_ROW, c).value: c for c in range(1, ws.max_column + 1)}


def test_columns_are_grouped_by_role_under_a_title_row(book):
    spec, _, wb = book
    ws = wb["LR 0.5"]
    header = _header(ws)
    titles = {}
    for r in sorted(ws.merged_cells.ranges, key=lambda r: r.min_col):
        assert r.min_row == r.max_row == GROUP_ROW
        titles[ws.cell(GROUP_ROW, r.min_col).value] = (r.min_col, r.max_col)
    assert list(titles) == ["Inputs and targets", "Weights", "Forward pass", "Error",
                            "Backward pass: deltas ∂E_total/∂net",
                            "Gradients (the next row's weights are w − η·∂E_total/∂w)"]
    spans = dict(zip(BANDS, titles.values()))
    for label, group in GROUP_OF_LABEL.items():
        lo, hi = spans[group]
        assert lo <= header[label] <= hi, label
    # together the groups cover every quantity, each once
    assert sum(hi - lo + 1 for lo, hi in spans.values()) == len(quantities(spec))


def test_each_group_has_its_own_colour_and_number_format(book):
    _, _, wb = book
    ws = wb["LR 2"]
    header = _header(ws)
    fills = {}
    for label, group in GROUP_OF_LABEL.items():
        for row in (FIRST_ROW, FIRST_ROW + 7):
            cell = ws.cell(row, header[label])
            assert cell.number_format == NUMBER_FORMAT[group], label
            fills.setdefault(group, set()).add(cell.fill.fgColor.rgb[-6:])
    assert all(len(colours) == 1 for colours in fills.values())
    assert len({c for colours in fills.values() for c in colours}) == len(BANDS)
    assert {g: next(iter(c)) for g, c in fills.items()} == {g: BANDS[g][0][1:] for g in BANDS}


def test_losses_and_derivatives_are_scientific_and_keep_full_precision(book):
    spec, path, _ = book
    ws = openpyxl.load_workbook(path, data_only=True)["LR 2"]
    col = _header(ws)["E_total"]
    cell = ws.cell(FIRST_ROW + spec.iterations - 1, col)
    assert cell.number_format == SCIENTIFIC
    assert len(repr(cell.value).rstrip("0")) > 15  # the stored number is not the rounded one shown


def test_column_widths_fit_their_labels_and_the_learning_rate_label(book):
    spec, _, wb = book
    ws = wb["LR 0.5"]
    assert ws.column_dimensions["A"].width >= len("Learning rate η")
    for label, col in _header(ws).items():
        letter = openpyxl.utils.get_column_letter(col)
        assert ws.column_dimensions[letter].width >= len(label) + 1, label


def test_panes_freeze_the_headers_and_the_iteration_column(book):
    _, _, wb = book
    assert wb["LR 0.5"].freeze_panes == f"B{FIRST_ROW}"


def test_learning_rate_sheets_print_at_8pt_by_column_group_with_labels_and_iteration_repeated(book):
    spec, path, wb = book
    ws = wb["LR 2"]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage  # no fit to one page
    assert int(ws.page_setup.scale) == PRINT_SCALE
    default_font = wb._fonts[0]
    assert 7.5 <= default_font.sz * PRINT_SCALE / 100 <= 8.5  # about 8 pt on paper
    # every page break falls between two column groups, and there are some: a few pages wide
    starts = {g.first for g in make_layout(spec).groups}
    breaks = [b.id + 1 for b in ws.col_breaks.brk]  # 1-based column each page starts at
    assert breaks and set(breaks) <= starts
    assert all(b.man for b in ws.col_breaks.brk)
    assert ws.print_title_rows == f"${GROUP_ROW}:${HEADER_ROW}"  # group titles and labels on every page
    assert ws.print_title_cols == "$A:$A"  # and the Iteration column
    with zipfile.ZipFile(path) as zf:  # the written XML, as a spreadsheet program reads it
        xml = zf.read("xl/worksheets/sheet3.xml").decode()  # LR 0.5
    assert f'<pageSetup paperSize="9" scale="{PRINT_SCALE}" orientation="landscape"/>' in xml
    assert "fitToPage" not in xml


def test_each_printed_page_of_a_learning_rate_sheet_fits_its_columns(book):
    spec, _, _ = book
    layout = make_layout(spec)
    widths = {1: 17, **{c: 15 for g in layout.groups for c in range(g.first, g.last + 1)}}
    breaks = column_page_breaks(widths, layout.groups)
    room = _PRINTABLE_PT * 100 / PRINT_SCALE - column_width_pt(widths[1])
    edges = [2, *(b + 1 for b in breaks), max(widths) + 1]
    for first, end in zip(edges, edges[1:]):
        assert sum(column_width_pt(widths[c]) for c in range(first, end)) <= room


def test_a_column_group_wider_than_a_page_is_broken_between_its_columns():
    groups = [Group("data", "Inputs", 2, 3), Group("gradients", "Gradients", 4, 63)]
    widths = {c: 15 for c in range(1, 64)}
    breaks = column_page_breaks(widths, groups)
    assert breaks[0] == 3  # the wide group starts a page of its own
    assert len(breaks) > 3 and breaks == sorted(set(breaks))
    assert all(4 <= b + 1 <= 63 for b in breaks)


def test_parameters_sheet_explains_the_colours(book):
    spec, _, wb = book
    ws = wb["Parameters"]
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert "Colours on the learning-rate sheets" in cells
    assert legend(spec)["error"][1] == "½ (target − output)² of each output, and their sum E_total"
    for key, (name, text) in legend(spec).items():
        assert cells[name].fill.fgColor.rgb[-6:] == BANDS[key][0][1:]
        assert ws.cell(cells[name].row, cells[name].column + 1).value == text


def test_summary_numbers_are_formatted_and_its_chart_is_labelled(book):
    spec, path, wb = book
    ws = wb["Summary"]
    rows = summary_rows(spec)
    assert ws.cell(rows.table + 1, 2).number_format == SCIENTIFIC   # final E_total
    assert ws.cell(rows.table + 1, 3).number_format == "0.00%"      # its reduction
    assert ws.cell(rows.first + 3, 2).number_format == SCIENTIFIC   # a point of a curve
    with zipfile.ZipFile(path) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    for text in ("E_total by iteration (era, 2-2-2)", ">Iteration<", ">E_total<", "η = 0.5", "η = 2", "<c:legend>"):
        assert text in chart, text


def test_summary_dimension_covers_its_cells_with_a_single_learning_rate(tmp_path):
    spec = preset("era").with_(iterations=5, learning_rates=(0.5,))
    path = tmp_path / "one.xlsx"
    write_workbook(spec, path)
    ws = openpyxl.load_workbook(path)["Summary"]
    used = [(c.row, c.column) for row in ws.iter_rows() for c in row if c.value is not None]
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    ref = sheet.split('<dimension ref="', 1)[1].split('"', 1)[0]
    low, high = (openpyxl.utils.cell.coordinate_to_tuple(p) for p in ref.split(":"))
    assert all(low[0] <= r <= high[0] and low[1] <= c <= high[1] for r, c in used), (ref, max(used))


def test_every_layout_column_has_a_header_the_group_row_names(book):
    spec, _, wb = book
    layout = make_layout(spec)
    ws = wb["LR 0.5"]
    for g in layout.groups:
        assert ws.cell(GROUP_ROW, g.first).value == g.title
