"""The HTML report: tables show numbers as a reader expects them, never a raw None or nan."""

from __future__ import annotations

from uva_kit.eval.report import Report, percent


def test_table_cells_show_missing_values_as_a_dash_and_no_negative_zero(tmp_path):
    report = Report("t")
    report.table(["a", "b", "c", "d"], [[None, float("nan"), -0.0001, 0.12345]])
    text = report.write(tmp_path / "report.html").read_text()
    assert "<td>-</td><td>-</td><td>0.000</td><td>0.123</td>" in text
    assert "None" not in text and "nan" not in text


def test_rates_are_percentages():
    assert (percent(0.25), percent(1.0), percent(0.0)) == ("25%", "100%", "0%")
