"""The PDF printer: one Chromium over the DevTools pipe, the same PDF as `--print-to-pdf`."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from exportcast.reports import printer as printer_module
from exportcast.reports.printer import (
    BROWSER_ARGS,
    CHROMIUM,
    ChromiumMissingError,
    PdfError,
    PdfPrinter,
)


def _pdf_facts(pdf: Path) -> tuple[str, str]:
    """(pdfinfo without its dates, pdftotext): what two prints of one page must share."""
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    kept = [line for line in info.stdout.splitlines() if "Date" not in line]
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True)
    return "\n".join(kept), text.stdout


def _fake_chromium(tmp_path: Path, body: str) -> Path:
    """An executable standing in for Chromium (a shell script)."""
    fake = tmp_path / "chromium"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    return fake


def test_the_printed_pdf_is_the_command_line_one_but_for_its_dates(built, tmp_path):
    """Page size, page count, tagging, title and text equal Chromium's own `--print-to-pdf`."""
    cli_pdf = tmp_path / "cli.pdf"
    subprocess.run(
        [str(CHROMIUM), *BROWSER_ARGS, "--no-pdf-header-footer",
         f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={cli_pdf}",
         built.html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with PdfPrinter() as printer:
        out = printer.print_pdf(built.html, tmp_path / "pipe.pdf")
    assert out == tmp_path / "pipe.pdf"
    info, text = _pdf_facts(out)
    assert (info, text) == _pdf_facts(cli_pdf)
    assert "Pages:" in info and "A4" in info
    assert out.stat().st_size == cli_pdf.stat().st_size


def test_one_printer_prints_several_files_and_closes_without_leftovers(built, tmp_path):
    page = tmp_path / "small.html"
    page.write_text("<html><head><title>small</title></head><body><p>second page</p></body></html>")
    printer = PdfPrinter()
    profile = Path(printer._profile.name)  # its own fresh profile folder
    process = printer._process
    first = printer.print_pdf(built.html, tmp_path / "a.pdf")
    second = printer.print_pdf(page, tmp_path / "b.pdf")
    assert _pdf_facts(second)[1].strip() == "second page"
    assert first.stat().st_size > second.stat().st_size > 0
    printer.close()
    printer.close()  # twice is harmless
    assert process.poll() is not None
    assert not profile.exists()
    with pytest.raises(PdfError, match="closed"):
        printer.print_pdf(page, tmp_path / "c.pdf")
    assert not (tmp_path / "c.pdf").exists()


def test_a_missing_chromium_fails_when_printing_not_when_started(tmp_path):
    printer = PdfPrinter(tmp_path / "no" / "chromium")  # no error yet: a run starts it early
    with printer, pytest.raises(ChromiumMissingError, match="Chromium not found at"):
        printer.print_pdf(tmp_path / "r.html", tmp_path / "r.pdf")
    assert not list(tmp_path.glob("*.pdf"))


def test_a_chromium_that_exits_gives_its_error_output(tmp_path):
    fake = _fake_chromium(tmp_path, 'echo "cannot open display: bad things [here]" >&2; exit 3')
    html = tmp_path / "r.html"
    html.write_text("<p>x</p>")
    with PdfPrinter(fake) as printer, pytest.raises(PdfError) as err:
        printer.print_pdf(html, tmp_path / "r.pdf")
    message = str(err.value)
    assert "exited before printing r.html (exit 3)" in message
    assert "cannot open display: bad things [here]" in message
    assert not list(tmp_path.glob("*.pdf"))


def test_a_chromium_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(printer_module, "PDF_TIMEOUT_S", 1)
    fake = _fake_chromium(tmp_path, "exec sleep 60")
    html = tmp_path / "r.html"
    html.write_text("<p>x</p>")
    printer = PdfPrinter(fake)
    with pytest.raises(PdfError, match=r"did not print r\.html within 1 s"):
        printer.print_pdf(html, tmp_path / "r.pdf")
    process = printer._process
    printer.close()  # no answer to Browser.close either: killed after its grace period
    assert process.poll() is not None
    assert not list(tmp_path.glob("*.pdf"))


def test_a_page_chromium_cannot_open_is_named(tmp_path):
    with PdfPrinter() as printer, pytest.raises(PdfError, match=r"could not open .*gone\.html"):
        printer.print_pdf(tmp_path / "gone.html", tmp_path / "r.pdf")
    assert not list(tmp_path.glob("*.pdf"))


def test_chromium_gets_the_pipe_on_3_and_4_and_nothing_else_of_this_process(tmp_path):
    fake = _fake_chromium(tmp_path, f"ls -l /proc/$$/fd > {tmp_path / 'fds'}")
    with open(tmp_path / "sentinel", "w") as sentinel:  # a file this process holds open
        with PdfPrinter(fake) as printer, pytest.raises(PdfError):
            printer.print_pdf(tmp_path / "r.html", tmp_path / "r.pdf")
        assert not sentinel.closed
    # "lr-x------ 1 root root 64 Dec  4 21:32 3 -> pipe:[578482]"
    lines = (tmp_path / "fds").read_text().splitlines()
    listed = [line.split(" -> ", 1) for line in lines if " -> " in line]
    fds = {left.split()[-1]: target for left, target in listed}
    pipes = sorted(int(fd) for fd, target in fds.items() if target.startswith("pipe:"))
    assert pipes == [3, 4]
    assert fds["0"] == "/dev/null"
    assert not [t for t in fds.values() if "sentinel" in t or t.startswith("socket:")]


def test_closing_without_waiting_ends_chromium_on_a_thread_the_interpreter_joins():
    printer = PdfPrinter()
    process, profile = printer._process, Path(printer._profile.name)
    printer.close(wait=False)  # returns while Chromium exits
    closers = [t for t in threading.enumerate() if t.name == "exportcast-chromium-close"]
    assert closers and not any(t.daemon for t in closers)  # joined before the process exits
    for closer in closers:
        closer.join(timeout=10)
    assert process.poll() is not None
    assert not profile.exists()
