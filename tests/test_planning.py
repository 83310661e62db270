"""planning.py: templates that never evaluate, size limits, variants by a stable hash, row names."""

from __future__ import annotations

import math
import string
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics.errors import InputError
from targetsms_analytics.planning import (
    HOLDOUT,
    Field,
    _group_batches,
    _plan,
    assign_variants,
    check_variants,
    escape,
    parse_template,
    render,
    row_names,
    template_fields,
)

# No deadline: the suite must pass on a busy machine (set per test, not as a global profile).
PROPERTY = settings(deadline=None, max_examples=200)

# Column names a user may have: letters (any script), digits, spaces, punctuation but no braces,
# no '|' and none of the characters str.format would evaluate.
names = st.text(
    alphabet=st.characters(blacklist_characters="{}|.[]!:", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() and not s.strip().isdigit())
literals = st.text(max_size=30)


def one(template: str) -> dict:
    return {None: template}


# ---------------------------------------------------------------- the template grammar


@PROPERTY
@given(literals)
def test_an_escaped_text_renders_to_itself(text):
    assert render(parse_template(escape(text)), {}) == text


@PROPERTY
@given(literals, names, st.text(max_size=40), literals)
def test_a_value_is_inserted_as_it_is_never_parsed_again(before, name, value, after):
    template = escape(before) + "{" + name + "}" + escape(after)
    values = {name.strip(): value}
    if value.strip():
        assert render(parse_template(template), values) == before + value + after
    else:
        with pytest.raises(KeyError):
            render(parse_template(template), values)


@PROPERTY
@given(names, st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20))
def test_the_fallback_is_used_only_for_a_blank_value(name, fallback):
    template = parse_template("{" + name + "|" + fallback + "}")
    assert render(template, {name.strip(): None}) == fallback
    assert render(template, {name.strip(): "  "}) == fallback
    assert render(template, {name.strip(): "Анна"}) == "Анна"


@PROPERTY
@given(st.lists(st.one_of(literals.map(escape), names.map(lambda n: "{" + n + "}")), max_size=6))
def test_plain_templates_render_as_str_format_does(pieces):
    template = "".join(pieces)
    parsed = parse_template(template)
    values = {n: f"<{n}>" for n in template_fields(parsed)}
    expected = template.format_map(_spaced(template, values))
    assert render(parsed, values) == expected


def _spaced(template: str, values: dict) -> dict:
    # str.format keeps the spaces around a name; ours strips them: map the raw names too.
    raw = {}
    for _lit, name, _spec, _conv in string.Formatter().parse(template):
        if name is not None:
            raw[name] = values[name.strip()]
    return raw


@pytest.mark.parametrize(
    "bad",
    [
        "Hi {name.__class__}",
        "Hi {name.upper}",
        "Hi {name[0]}",
        "Hi {0}",
        "Hi {}",
        "Hi {name!r}",
        "Hi {name:>10}",
        "Hi {code:05d}",
        "Hi {name",
        "Hi name}",
        "Hi {na{me}}",
        "Hi {|x}",
    ],
)
def test_anything_but_a_plain_field_is_refused_before_sending(bad):
    with pytest.raises(InputError) as info:
        parse_template(bad)
    assert info.value.code == "template_invalid"
    assert info.value.field == "text"


@PROPERTY
@given(literals, names, st.sampled_from(list(".[]!:")), literals)
def test_evaluating_placeholders_are_always_refused(before, name, char, after):
    with pytest.raises(InputError):
        parse_template(escape(before) + "{" + name + char + "x}" + escape(after))


def test_the_parsed_form():
    assert parse_template("Hi { name |друзья}! {{x}}") == (
        "Hi ",
        Field("name", "друзья"),
        "! {x}",
    )


# ---------------------------------------------------------------- plans


def test_a_bad_template_raises_with_the_field_named_and_nothing_planned():
    frame = pd.DataFrame({"phone": ["79161234567"], "name": ["Анна"]})
    with pytest.raises(InputError, match=r"name\.__class__") as info:
        _plan(frame, one("Hi {name.__class__}"), "phone", True)
    assert info.value.code == "template_invalid"


def test_an_empty_name_uses_the_fallback_and_without_one_the_row_is_invalid():
    frame = pd.DataFrame({"phone": ["79161234567", "79161234568"], "Имя": ["Анна", None]})
    plan = _plan(frame, one("Здравствуйте, {Имя|друзья}!"), "phone", True)
    assert plan.text == ["Здравствуйте, Анна!", "Здравствуйте, друзья!"]
    plan = _plan(frame, one("Здравствуйте, {Имя}!"), "phone", True)
    assert plan.outcome == [None, "invalid"]
    assert plan.error_code[1] == "template_value_missing"


def test_a_value_that_is_not_text_makes_its_row_invalid():
    frame = pd.DataFrame({"phone": ["79161234567", "79161234568"], "x": ["ok", ["a", "b"]]})
    plan = _plan(frame, one("{x}"), "phone", True)
    assert plan.outcome == [None, "invalid"]
    assert plan.error_code[1] == "template_invalid"


def test_a_braces_value_is_sent_literally():
    frame = pd.DataFrame({"phone": ["79161234567"], "name": ["{name.__class__}"]})
    assert _plan(frame, one("Hi {name}"), "phone", True).text == ["Hi {name.__class__}"]


def test_a_ten_thousand_character_text_is_invalid_too_many_parts():
    frame = pd.DataFrame({"phone": ["79161234567", "79161234568"], "t": ["a" * 10_000, "short"]})
    plan = _plan(frame, one("{t}"), "phone", True)
    assert plan.outcome == ["invalid", None]
    assert plan.error_code[0] == "too_many_parts"
    assert "max_parts=10" in plan.error_text[0]
    assert _plan(frame, one("{t}"), "phone", True, max_parts=66).outcome == [None, None]


def test_max_parts_counts_parts_not_characters():
    text = "я" * 67 * 3  # 3 UCS-2 parts
    frame = pd.DataFrame({"phone": ["79161234567"]})
    assert _plan(frame, one(text), "phone", True, max_parts=3).parts == [3]
    assert _plan(frame, one(text), "phone", True, max_parts=2).error_code == ["too_many_parts"]


def test_a_text_whose_url_alone_is_too_long_is_invalid():
    frame = pd.DataFrame({"phone": ["79161234567", "79161234568"], "t": ["x" * 1500, "short"]})
    plan = _plan(
        frame,
        one("{t}"),
        "phone",
        True,
        max_parts=20,
        url_length=lambda text: 100 + len(text),
        max_url_length=1000,
    )
    assert plan.outcome == ["invalid", None]
    assert plan.error_code[0] == "url_too_long"


def test_two_megabyte_field_is_cheap_and_invalid():
    frame = pd.DataFrame({"phone": ["79161234567"], "t": ["ы" * 2_000_000]})
    plan = _plan(frame, one("{t}"), "phone", True, url_length=len, max_url_length=2000)
    assert plan.error_code == ["too_many_parts"] and plan.text == [None]


def test_duplicates_name_the_file_line_when_the_frame_came_from_a_file():
    frame = pd.DataFrame({"phone": ["79161234567", "79161234567"], "name": ["a", "b"]})
    frame.attrs["line_numbers"] = np.array([2, 4])
    plan = _plan(frame, one("Hi {name}"), "phone", True)
    assert plan.error_text[1] == "the same recipient as line 2"
    frame.attrs.clear()
    plan = _plan(frame.set_axis(["x", "y"]), one("Hi {name}"), "phone", True)
    assert plan.error_text[1] == "the same recipient as row 'x'"


def test_row_names_follow_the_labels_after_filtering_but_not_after_reindexing():
    frame = pd.DataFrame({"phone": list("abcd")})
    frame.attrs["line_numbers"] = range(2, 6)
    assert row_names(frame) == ["line 2", "line 3", "line 4", "line 5"]
    assert row_names(frame.iloc[[1, 3]]) == ["line 3", "line 5"]
    assert row_names(frame.sort_values("phone", ascending=False)) == [
        "line 5", "line 4", "line 3", "line 2",
    ]  # fmt: skip
    # filtered, then re-indexed 0..k-1: the lines are unknown, the labels are named
    assert row_names(frame.iloc[[1, 3]].reset_index(drop=True)) == ["row 0", "row 1"]
    assert row_names(frame.set_axis(list("wxyz"))) == ["row 'w'", "row 'x'", "row 'y'", "row 'z'"]


def test_group_batches_never_exceed_max_batch_and_keep_variants_apart():
    items = [(f"7916123{i:04d}", "SHOP", "Hi", 1, "AB"[i % 2]) for i in range(25)]
    batches = _group_batches(items, lambda s, t: 100, 2000, max_batch=4)
    assert all(len(b.phones) <= 4 for b in batches)
    for b in batches:
        assert {items[int(p[-4:])][4] for p in b.phones} == {b.variant}
    assert sorted(p for b in batches for p in b.phones) == sorted(i[0] for i in items)


# ---------------------------------------------------------------- variants


def phones(n: int) -> list[str]:
    return [f"79{i:09d}" for i in range(n)]


def test_variant_proportions_are_within_three_sigma_on_ten_thousand_rows():
    n, holdout = 10_000, 0.1
    counts = Counter(assign_variants(phones(n), ["A", "B"], holdout=holdout, seed=7, campaign="c"))
    for name, p in ((HOLDOUT, holdout), ("A", 0.45), ("B", 0.45)):
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(counts[name] - n * p) < 3 * sigma, (name, counts)


def test_assignment_is_stable_across_calls_and_orders_and_depends_on_seed_and_campaign():
    ms = phones(500)
    first = assign_variants(ms, ["A", "B"], holdout=0.2, seed=7, campaign="c")
    assert assign_variants(ms, ["B", "A"], holdout=0.2, seed=7, campaign="c") == first
    assert assign_variants(ms[::-1], ["A", "B"], holdout=0.2, seed=7, campaign="c") == first[::-1]
    assert assign_variants(ms, ["A", "B"], holdout=0.2, seed=8, campaign="c") != first
    assert assign_variants(ms, ["A", "B"], holdout=0.2, seed=7, campaign="d") != first


def test_assignment_is_the_same_in_another_process():
    ms = phones(200)
    here = assign_variants(ms, ["A", "B", "C"], holdout=0.1, seed=7, campaign="spring")
    code = (
        "import pandas as pd\n"
        "from targetsms_analytics.campaign import estimate_campaign\n"
        f"frame = pd.DataFrame({{'phone': {ms!r}}})\n"
        "est = estimate_campaign(frame, {'C': 'c', 'A': 'a', 'B': 'b'}, campaign='spring',"
        " holdout=0.1, seed=7)\n"
        "print(','.join(est['variant']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},  # another hash seed: no hash() involved
    )
    assert out.stdout.strip().split(",") == here


def test_holdout_rows_are_planned_but_not_rendered():
    frame = pd.DataFrame({"phone": phones(400), "name": ["Анна"] * 400})
    plan = _plan(
        frame, check_variants({"A": "a {name}", "B": "b {name}"}, 0.25), "phone", True,
        holdout=0.25, seed=1, campaign="x",
    )  # fmt: skip
    held = [i for i, v in enumerate(plan.variant) if v == HOLDOUT]
    assert 50 < len(held) < 150
    assert all(plan.text[i] is None and plan.outcome[i] is None for i in held)
    assert all(
        plan.text[i].startswith(plan.variant[i].lower()) for i in range(400) if i not in held
    )
    assert len(plan.recipients) == 400


@pytest.mark.parametrize(
    ("text", "holdout", "field"),
    [
        ({}, 0.0, "text"),
        ({"holdout": "x"}, 0.0, "text"),
        ({"Holdout": "x"}, 0.0, "text"),
        ({"A": ""}, 0.0, "text"),
        ({1: "x"}, 0.0, "text"),
        ("x", 1.5, "holdout"),
        ("x", 1.0, "holdout"),
        ("x", -0.1, "holdout"),
        ("x", "0.1", "holdout"),
        ("x", float("nan"), "holdout"),
    ],
)
def test_bad_variants_or_holdout_name_the_argument(text, holdout, field):
    with pytest.raises(InputError) as info:
        check_variants(text, holdout)
    assert info.value.field == field


def test_a_single_text_is_variant_none_or_main_with_a_holdout():
    assert check_variants("Hi", 0.0) == {None: "Hi"}
    assert check_variants("Hi", 0.1) == {"main": "Hi"}


def test_read_contacts_records_the_file_line_of_each_row(tmp_path):
    from targetsms_analytics.contacts import read_contacts

    path = tmp_path / "crm.csv"
    path.write_text(
        'name;phone\nАнна;79161234561\n\n"Олег\nПетрович";79161234562\nИра;79161234563\n',
        encoding="utf-8",
    )
    frame = read_contacts(path)
    assert row_names(frame) == ["line 2", "line 4", "line 6"]
    plain = tmp_path / "plain.csv"
    plain.write_text("phone\r\n79161234561\r\n79161234562\r\n", encoding="utf-8")
    assert row_names(read_contacts(plain)) == ["line 2", "line 3"]
