from decimal import Decimal as D

import pytest

from publish.jsontext import dumps
from publish.numbers import number_text, percent_of, vn_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("96.95"), "96.95"),
        (D("330.00"), "330"),
        (D("264.50"), "264.5"),
        (D("0.00"), "0"),
        (D("-0.00"), "0"),
        (D("0.005"), "0.01"),  # half up, not banker's rounding
        (D("1E+3"), "1000"),
        (D("0.1") + D("0.2"), "0.3"),
    ],
)
def test_number_text_is_exact_with_at_most_two_decimals(value, text):
    assert number_text(value) == text


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (D("96.95"), None, "96,95"),
        (D("330"), None, "330"),
        (D("1234.5"), None, "1.234,5"),
        (D("1234567.891"), 2, "1.234.567,89"),
        (D("264"), 2, "264,00"),
        (D("-3.5"), None, "-3,5"),
        (None, None, "—"),
    ],
)
def test_vietnamese_number_format(value, places, text):
    assert vn_number(value, places) == text


def test_percent_of_uses_decimal_division_half_up():
    assert percent_of(D("263.99"), D("330")) == D("80.00")
    assert percent_of(D("1"), D("3")) == D("33.33")
    assert percent_of(D("2"), D("3")) == D("66.67")
    assert percent_of(D("1"), D("0")) is None


def test_dumps_writes_decimals_as_exact_numbers_and_keeps_vietnamese():
    text = dumps({"name": "Sở Nội vụ", "score": D("96.95"), "max": D("330.00"), "ok": True})
    assert '"score": 96.95' in text
    assert '"max": 330' in text
    assert "Sở Nội vụ" in text  # ensure_ascii=False
    assert text.endswith("}\n")


def test_dumps_normalises_strings_to_nfc():
    decomposed = "Ho\u0302\u0300"  # "Hồ" typed with combining marks
    assert dumps(decomposed) == '"Hồ"\n'


def test_dumps_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        dumps(D("NaN"))
    with pytest.raises(TypeError):
        dumps(object())
