"""`xlbackprop serve` over HTTP, as a browser without JavaScript uses it: the form posts, the result page
refreshes itself. One server for the module (starting one costs seconds); limits that need other settings
start their own."""

import html
import re
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from tests.serve_helpers import (ROOT, SHEET_XSS, XSS, Client, right_workbook, serving, wrong_workbook,
                                 xss_workbook)
from tests.wb_fixtures import Layout, simulate, write_workbook
from xlbackprop.validate.batch import validate_file


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("serve"), "--jobs", "2", "--max-upload", "1") as url:
        yield url


def test_front_page_has_a_plain_form_that_posts_a_file(server):
    status, _, page = Client(server).get("/")
    assert status == 200
    assert re.search(r'<form action="/check" method="post" enctype="multipart/form-data"', page)
    assert 'type="file"' in page and 'name="workbook"' in page and 'type="submit"' in page
    assert '<label for="workbook">' in page


def test_a_wrong_workbook_gets_its_first_error_fix_and_marked_cell(server, tmp_path):
    client = Client(server)
    status, url, page = client.result(client.upload(wrong_workbook(tmp_path / "wrong.xlsx")))
    assert status == 200 and "/result/" in url
    assert 'id="verdict">WRONG<' in page
    assert "Sheet1!V4" in page                       # the first error's cell
    assert "<code>=0.5*(B4-S4)^2</code>" in page     # its verified fix
    assert re.search(r'<td class="wrong( first)?" data-cell="V4"', page)  # marked on the grid, where the sheet has it
    assert 'href="' + url[len(server):] + '/annotated"' in page


def test_a_correct_workbook_is_correct(server, tmp_path):
    client = Client(server)
    _, _, page = client.result(client.upload(right_workbook(tmp_path / "right.xlsx")))
    assert 'id="verdict">CORRECT<' in page
    assert 'class="wrong"' not in page


def test_the_annotated_copy_downloads_as_an_attachment_and_validates(server, tmp_path):
    client = Client(server)
    _, url, _ = client.result(client.upload(wrong_workbook(tmp_path / "wrong.xlsx")))
    with client.opener.open(url + "/annotated") as response:
        disposition = response.headers["Content-Disposition"]
        data = response.read()
    assert disposition.startswith("attachment;") and "wrong.annotated.xlsx" in disposition
    copy = tmp_path / "wrong.annotated.xlsx"
    copy.write_bytes(data)
    assert "Feedback" in zipfile.ZipFile(copy).read("xl/workbook.xml").decode()
    assert validate_file(copy).verdict == "wrong"


def test_a_sheet_saved_as_csv_is_checked_and_text_under_another_name_is_not(server, tmp_path):
    from tests.test_validate_csv import write_csv

    client = Client(server)
    csv_file = write_csv(tmp_path / "mine.csv", simulate(rows=4))
    _, _, page = client.result(client.upload(csv_file))
    assert 'id="verdict">CORRECT<' in page
    status, _, page = Client(server).upload(csv_file, name="mine.xlsx")  # text is no workbook by another name
    assert status == 415 and "not a workbook" in page
    tsv_file = write_csv(tmp_path / "mine.tsv", simulate(rows=4), delimiter="\t")  # Google Sheets' .tsv
    other = Client(server)
    _, _, page = other.result(other.upload(tsv_file))
    assert 'id="verdict">CORRECT<' in page


def test_workbook_text_is_escaped(server, tmp_path):
    client = Client(server)
    _, _, page = client.result(client.upload(xss_workbook(tmp_path / "xss.xlsx")))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(XSS, quote=False) in page or html.escape(XSS) in page
    assert html.escape(SHEET_XSS) in page


def test_a_result_is_not_served_to_another_session(server, tmp_path):
    mine = Client(server)
    _, url, _ = mine.result(mine.upload(right_workbook(tmp_path / "right.xlsx")))
    path = url[len(server):]
    stranger = Client(server)
    assert stranger.get(path)[0] == 404
    assert stranger.get(path + "/annotated")[0] == 404
    assert mine.get(path)[0] == 200


def test_an_oversized_upload_is_refused_with_413(server, tmp_path):
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK\x03\x04" + b"\0" * 1_200_000)  # the module's server takes at most 1 MB
    status, _, page = Client(server).upload(big)
    assert status == 413
    assert "larger than 1 MB" in page and 'role="alert"' in page


def test_a_file_is_typed_by_its_content_not_its_name(server, tmp_path):
    fake = tmp_path / "homework.xlsx"
    fake.write_bytes(b"%PDF-1.7 not a workbook at all")
    status, _, page = Client(server).upload(fake)
    assert status == 415 and "not a workbook" in page
    # a real workbook with the wrong name is checked as what it is
    named_ods = tmp_path / "really_xlsx.ods"
    named_ods.write_bytes(right_workbook(tmp_path / "r.xlsx").read_bytes())
    client = Client(server)
    _, _, page = client.result(client.upload(named_ods))
    assert 'id="verdict">CORRECT<' in page


def test_uploads_and_results_are_private_urls(server, tmp_path):
    client = Client(server)
    status, url, _ = client.upload(right_workbook(tmp_path / "right.xlsx"))
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32
    assert Client(server).get("/result/" + "A" * len(token))[0] == 404


def test_serve_warns_when_it_serves_the_network(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--help"], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert "--host" in out.stdout and "--port" in out.stdout and "--keep" in out.stdout
    from xlbackprop.cli.serve import _loopback

    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.10")


def test_serve_prints_its_address_and_the_plain_http_warning(tmp_path):
    with serving(tmp_path, "--host", "0.0.0.0", "--jobs", "1") as url:
        pass
    log = next(tmp_path.glob("serve-*.log")).read_text()
    port = url.rsplit(":", 1)[1]
    assert f"http://0.0.0.0:{port}/" in log
    assert "plain HTTP" in log and "TLS reverse proxy" in log


def test_a_second_upload_while_the_first_is_checked_is_refused_with_a_page_not_a_reset(server, tmp_path):
    """The refusal comes before the server needs the body; it still reads it, so the client gets the page."""
    slow = write_workbook(tmp_path / "long.xlsx", {"Sheet1": [Layout(rows=simulate(rows=1000))]})  # ~0.6 MB
    client = Client(server)
    client.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(client.jar), NoRedirect())
    first = client.upload(slow)
    assert first[0] == 303
    status, _, page = client.upload(slow)
    assert status == 409
    assert "You already have a workbook being checked" in page


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.libreoffice
def test_an_ods_workbook_is_checked_and_annotated(server, tmp_path, libreoffice):
    from xlbackprop.libreoffice import convert

    ods = convert(wrong_workbook(tmp_path / "wrong.xlsx"), tmp_path / "ods", fmt="ods")
    client = Client(server)
    _, url, page = client.result(client.upload(ods))
    assert 'id="verdict">WRONG<' in page and "Sheet1!V4" in page
    with client.opener.open(url + "/annotated") as response:
        assert "wrong.annotated.xlsx" in response.headers["Content-Disposition"]
