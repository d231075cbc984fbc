import duckdb

from publish.collation import ALPHABET, sort_vietnamese, vietnamese_key
from tests.publish.publish_marts_fixture import read_seed


def test_letters_follow_the_vietnamese_alphabet():
    words = ["y", "ư", "u", "ơ", "ô", "o", "đ", "d", "ê", "e", "â", "ă", "a", "b"]
    assert sort_vietnamese(words) == [
        "a",
        "ă",
        "â",
        "b",
        "d",
        "đ",
        "e",
        "ê",
        "o",
        "ô",
        "ơ",
        "u",
        "ư",
        "y",
    ]
    assert ALPHABET.index("đ") == ALPHABET.index("d") + 1


def test_d_with_stroke_sorts_after_every_d_word():
    assert sort_vietnamese(["Đà Nẵng", "Dương", "Duy"]) == ["Duy", "Dương", "Đà Nẵng"]


def test_tones_only_break_ties_in_dictionary_order():
    # ngang, huyền, hỏi, ngã, sắc, nặng
    assert sort_vietnamese(["ạ", "á", "ã", "ả", "à", "a"]) == ["a", "à", "ả", "ã", "á", "ạ"]
    # A tone never outweighs a later letter: "bà" < "ban" although "a" < "à".
    assert sort_vietnamese(["ban", "bà"]) == ["bà", "ban"]


def test_uppercase_and_decomposed_input_sort_like_lowercase_nfc():
    assert vietnamese_key("Ấp")[:2] == vietnamese_key("ấp")[:2]
    assert vietnamese_key("A\u0306n")[:3] == vietnamese_key("Ăn")[:3]


def test_numbers_in_names_compare_as_numbers():
    names = ["Quận 10", "Quận 2", "Quận 1", "Quận Bình Thạnh", "Huyện Nhà Bè"]
    assert sort_vietnamese(names) == [
        "Huyện Nhà Bè",
        "Quận 1",
        "Quận 2",
        "Quận 10",
        "Quận Bình Thạnh",
    ]


def test_agrees_with_duckdb_icu_vi_on_the_registry_names_without_digits():
    names = [
        r["unit_name"]
        for r in read_seed("units.csv")
        if not any(c.isdigit() for c in r["unit_name"])
    ]
    con = duckdb.connect()
    try:
        con.execute("create table n as select unnest(?::varchar[]) as name", [names])
        icu = [r[0] for r in con.execute("select name from n order by name collate vi").fetchall()]
    finally:
        con.close()
    assert sort_vietnamese(names) == icu
