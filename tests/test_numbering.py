"""The numbering plan: lookup against the registry itself, brands, regions, time zones, the table."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics import numbering
from targetsms_analytics.errors import InputError
from targetsms_analytics.numbering import (
    brand_of_direction,
    brand_of_operator,
    build_table,
    lookup_numbers,
    normalize_region,
    parse_registry,
    read_table,
    table_bytes,
)

DATA = Path(__file__).parent / "data"
SAMPLE = (
    DATA / "DEF-9xx-sample.csv"
)  # 628 rows of the registry: every region spelling, operator, code
# The whole registry (../shared/data/numbering/DEF-9xx.csv, gzipped): a clean clone tests it too.
FULL = DATA / "DEF-9xx.csv.gz"

BIG_FOUR = {
    "7740000076": "МТС",
    "7812014560": "МегаФон",
    "7713076301": "Билайн",
    "7743895280": "Т2",
    "7815020097": "Т2",
}

# UTC offset (hours, in January: Russia keeps no DST) of every region as lookup_numbers spells it.
UTC_OFFSETS = {
    "Калининградская область": 2,
    **dict.fromkeys(
        [
            "Москва и Московская область", "Санкт-Петербург и Ленинградская область",
            "Архангельская область и Ненецкий автономный округ", "Архангельская область",
            "Ненецкий автономный округ", "Белгородская область", "Брянская область",
            "Владимирская область", "Вологодская область", "Воронежская область",
            "Ивановская область", "Калужская область", "Костромская область", "Курская область",
            "Липецкая область", "Мурманская область", "Нижегородская область",
            "Новгородская область", "Орловская область", "Пензенская область", "Псковская область",
            "Ростовская область", "Рязанская область", "Смоленская область", "Тамбовская область",
            "Тверская область", "Тульская область", "Ярославская область", "Краснодарский край",
            "Ставропольский край", "Республика Адыгея", "Республика Дагестан",
            "Республика Ингушетия", "Кабардино-Балкарская Республика", "Республика Калмыкия",
            "Карачаево-Черкесская Республика", "Республика Карелия", "Республика Коми",
            "Республика Марий Эл", "Республика Мордовия", "Республика Северная Осетия - Алания",
            "Республика Татарстан", "Чеченская Республика", "Чувашская Республика",
            "Кировская область", "Волгоградская область", "Республика Крым и Севастополь",
            "Республика Крым", "Севастополь",
        ],
        3,
    ),
    **dict.fromkeys(
        ["Астраханская область", "Самарская область", "Саратовская область",
         "Удмуртская Республика", "Ульяновская область"],
        4,
    ),
    **dict.fromkeys(
        ["Республика Башкортостан", "Курганская область", "Оренбургская область", "Пермский край",
         "Свердловская область", "Тюменская область", "Ханты-Мансийский автономный округ - Югра",
         "Челябинская область", "Ямало-Ненецкий автономный округ"],
        5,
    ),
    "Омская область": 6,
    **dict.fromkeys(
        ["Алтайский край", "Республика Алтай", "Кемеровская область", "Красноярский край",
         "Республика Тыва", "Республика Хакасия", "Новосибирская область", "Томская область"],
        7,
    ),
    "Иркутская область": 8,
    "Республика Бурятия": 8,
    "Забайкальский край": 9,
    "Амурская область": 9,
    "Республика Саха (Якутия)": 9,  # Yakutsk, the capital
    "Еврейская автономная область": 10,
    "Приморский край": 10,
    "Хабаровский край": 10,
    "Магаданская область": 11,
    "Сахалинская область": 11,
    "Камчатский край": 12,
    "Чукотский автономный округ": 12,
}  # fmt: skip


def _raw(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def _registry(path: Path) -> pd.DataFrame:
    return parse_registry(_raw(path).decode("utf-8-sig"), source=str(path))


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return _registry(SAMPLE)


@pytest.fixture(autouse=True)
def _shipped_table_only(monkeypatch, tmp_path):
    """No user table from the developer's home: the one shipped in the package."""
    monkeypatch.setenv(numbering.NUMBERING_ENV, str(tmp_path / "absent" / "numbering.csv.gz"))


def _msisdns(codes: pd.Series, numbers: pd.Series) -> list[str]:
    return [f"7{c}{n:07d}" for c, n in zip(codes, numbers, strict=True)]


# ----------------------------------------------------------------- lookup against the registry


def test_both_ends_of_every_sampled_range_have_its_operator_and_region(sample) -> None:
    for end in ("От", "До"):
        found = lookup_numbers(_msisdns(sample["АВС/ DEF"], sample[end]))
        brands = [BIG_FOUR.get(inn) or brand_of_operator(name) for inn, name in
                  zip(sample["ИНН"], sample["Оператор"], strict=True)]  # fmt: skip
        assert found["operator"].tolist() == brands
        assert found["region"].tolist() == [normalize_region(r) for r in sample["Регион"]]


def test_just_outside_a_range_is_another_range_or_unknown(sample) -> None:
    table = build_table(_registry(FULL)) if FULL.exists() else None
    # 79000000000 opens the first range of the registry; the one before it is not a 9xx mobile
    assert lookup_numbers(["78999999999"])["operator"].tolist() == ["unknown"]
    if table is not None:  # a gap in the registry: the first number after a range that is no range
        ends, starts = table["end"].to_numpy(), table["start"].to_numpy()
        gap_after = ends[:-1][ends[:-1] + 1 < starts[1:]]
        assert len(gap_after)
        after = [f"7{e + 1}" for e in gap_after[:50]]
        assert set(lookup_numbers(after)["operator"]) == {"unknown"}


def test_the_shipped_table_is_the_full_registry() -> None:
    registry = _registry(FULL)
    assert len(registry) == 9677
    for end in ("От", "До"):
        found = lookup_numbers(_msisdns(registry["АВС/ DEF"], registry[end]))
        assert (found["operator"] != "unknown").all()
        table = build_table(registry).set_index("start")
        starts = registry["АВС/ DEF"] * 10_000_000 + registry["От"]
        assert found["operator"].tolist() == table.loc[starts, "operator"].tolist()
    assert found.attrs["registry_date"] == numbering.registry_date() == "2023"


def test_the_four_brands_in_one_script() -> None:
    found = lookup_numbers(["79161234567", "79261234567", "79031234567", "79501234567"])
    assert found["operator"].tolist() == ["МТС", "МегаФон", "Билайн", "Т2"]
    assert all(not any("a" <= ch.lower() <= "z" for ch in name) for name in found["operator"])


def test_a_company_keyed_on_its_tax_number_stays_one_brand() -> None:
    text = (
        "АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n"
        '958;0;99;100;"ОАО ""МТТ""";Тверская обл.;7705017253\n'
        '958;100;199;100;"АО ""МТТ""";Тверская обл.;7705017253\n'
        '958;200;299;100;"ПАО ""Мобильные ТелеСистемы""";Тверская обл.;7740000076\n'
        '958;300;399;100;"ПАО ""МТС-Новое имя""";Тверская обл.;7740000076\n'
    )
    assert build_table(parse_registry(text))["operator"].tolist() == ["МТТ", "МТТ", "МТС", "МТС"]


def test_region_spellings_are_one_per_subject() -> None:
    moscow = ["г. Москва * Московская область", "г. Москва и Московская область",
              "Москва и Московская область", "Московская область * Москва|Московская область * Москва"]  # fmt: skip
    assert {normalize_region(r) for r in moscow} == {"Москва и Московская область"}
    assert normalize_region("г. Сочи|Краснодарский край") == "Краснодарский край"
    assert normalize_region("г. Норильск|Красноярский край") == "Красноярский край"
    assert normalize_region("Корякский округ|Камчатский край") == "Камчатский край"
    assert (
        normalize_region("Сургутский район * г. Сургут")
        == "Ханты-Мансийский автономный округ - Югра"
    )
    khmao = {"Ханты - Мансийский - Югра АО", "Ханты-Мансийский АО - Югра",
             "Ханты-Мансийский автономный округ - Югра"}  # fmt: skip
    assert {normalize_region(r) for r in khmao} == {"Ханты-Мансийский автономный округ - Югра"}
    assert normalize_region("Республика Удмуртская") == normalize_region("Удмуртская Республика")
    assert normalize_region("Тюменская область") == normalize_region("Тюменская обл.")
    assert normalize_region("Кемеровская область - Кузбасс область") == "Кемеровская область"
    assert normalize_region("Республика Саха /Якутия/") == "Республика Саха (Якутия)"
    assert normalize_region("Республика Крым * г. Севастополь") == "Республика Крым и Севастополь"


def test_every_registry_region_has_a_zone_with_the_right_offset(sample) -> None:
    regions = set(build_table(_registry(FULL) if FULL.exists() else sample)["region"])
    assert regions - set(UTC_OFFSETS) == {"Российская Федерация"}
    january = datetime(2024, 1, 15, 12)
    for region, hours in UTC_OFFSETS.items():
        zone = numbering.REGION_TIME_ZONES[region]
        assert ZoneInfo(zone).utcoffset(january).total_seconds() == hours * 3600, region
    assert set(UTC_OFFSETS.values()) == set(range(2, 13))


def test_time_zones_of_real_numbers() -> None:
    found = lookup_numbers(["79161234567", "79221234567", "79241234567", "79621234567"])
    assert found["time_zone"].tolist() == [
        "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok", "Asia/Sakhalin",
    ]  # fmt: skip
    nationwide = build_table(_registry(SAMPLE)).query("region == 'Российская Федерация'")
    assert len(nationwide) and nationwide["time_zone"].isna().all()


def test_what_is_not_a_russian_mobile_is_unknown() -> None:
    values = ["74951234567", "447911123456", "7916123456", "791612345678", "++79161234567", "+791612345678",
              "7916123456x", "", None, float("nan"), "79161234567.0", True, -79161234567]  # fmt: skip
    found = lookup_numbers(values)
    assert found["operator"].tolist() == ["unknown"] * len(values)
    assert found["region"].isna().all() and found["time_zone"].isna().all()


def test_lookup_keeps_order_index_and_the_values_given() -> None:
    series = pd.Series(["79031234567", "79161234567"], index=[10, 3])
    found = lookup_numbers(series)
    assert found.index.tolist() == [10, 3]
    assert found.columns.tolist() == ["msisdn", "operator", "region", "time_zone"]
    assert found["msisdn"].tolist() == ["79031234567", "79161234567"]
    assert lookup_numbers([79161234567, "+79161234567"])["operator"].tolist() == ["МТС", "МТС"]
    assert lookup_numbers(np.array(["79161234567"]))["operator"].tolist() == ["МТС"]
    assert lookup_numbers(iter(["79161234567"]))["operator"].tolist() == ["МТС"]
    empty = lookup_numbers([])
    assert len(empty) == 0 and empty.attrs["registry_date"] == "2023"
    assert ts.lookup_numbers is lookup_numbers


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_number_inside_a_range_has_that_range(data) -> None:
    sample = _SAMPLE_FOR_HYPOTHESIS
    i = data.draw(st.integers(0, len(sample) - 1))
    row = sample.iloc[i]
    number = data.draw(st.integers(int(row["От"]), int(row["До"])))
    found = lookup_numbers([f"7{row['АВС/ DEF']}{number:07d}"])
    assert found["operator"].iat[0] == (
        BIG_FOUR.get(row["ИНН"]) or brand_of_operator(row["Оператор"])
    )
    assert found["region"].iat[0] == normalize_region(row["Регион"])


_SAMPLE_FOR_HYPOTHESIS = _registry(SAMPLE)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.integers(79_000_000_000, 79_999_999_999).map(str), st.text(max_size=13)))
)
def test_vectorized_lookup_agrees_with_one_at_a_time(values) -> None:
    together = lookup_numbers(values)
    for i, value in enumerate(values):
        alone = lookup_numbers([value])
        assert together["operator"].iat[i] == alone["operator"].iat[0]
        assert together.iloc[i].isna().tolist() == alone.iloc[0].isna().tolist()


@given(st.sampled_from(sorted(set(_SAMPLE_FOR_HYPOTHESIS["Регион"]))))
def test_normalizing_a_region_twice_changes_nothing(raw: str) -> None:
    once = normalize_region(raw)
    assert normalize_region(once) == once
    assert once in numbering.REGION_TIME_ZONES


# ----------------------------------------------------------------- brands


def test_brand_of_operator_drops_legal_form_and_quotes() -> None:
    assert brand_of_operator('ООО "Скартел"') == "Скартел"
    assert brand_of_operator('Акционерное общество "АТОМДАТА"') == "АТОМДАТА"
    assert brand_of_operator("ФГУП «ГРЧЦ»") == "ГРЧЦ"
    assert brand_of_operator('ООО "Тинькофф Мобайл"') == "Тинькофф Мобайл"
    assert brand_of_operator('ПАО "Вымпел-Коммуникации"', "7713076301") == "Билайн"


def test_package_directions_map_to_the_lookup_brands() -> None:
    directions = ["МТС", "Мегафон", "BeeLine", "Tele2", "Yota", "Skylink", "СМАРТС", "Россия",
                  "Остальные", "Мотив", "Ростелеком", "Байкалвестком"]  # fmt: skip
    assert [brand_of_direction(d) for d in directions] == [
        "МТС", "МегаФон", "Билайн", "Т2", "Скартел", "Т2", "СМАРТС", "Россия", "Остальные",
        "ЕКАТЕРИНБУРГ-2000", "Ростелеком", "Т2",
    ]  # fmt: skip
    # the brand a direction names is a brand lookup_numbers gives (Yota's ranges: Скартел)
    brands = set(numbering._current_table().operators)
    operators = [d for d in directions if d not in ("СМАРТС", "Россия", "Остальные")]
    assert {brand_of_direction(d) for d in operators} <= brands
    assert lookup_numbers(["79991234567"])["operator"].tolist() == [brand_of_direction("Yota")]
    assert brand_of_direction(" beeline ") == "Билайн"


# ----------------------------------------------------------------- the table file


def test_the_table_round_trips_and_carries_its_date(sample) -> None:
    table = build_table(sample)
    data = table_bytes(table, registry_date="2024-05-01", source="sample")
    assert data == table_bytes(table, registry_date="2024-05-01", source="sample")  # no time stamp
    read = read_table(data)
    assert read.registry_date == "2024-05-01" and read.source == "sample"
    assert read.starts.tolist() == table["start"].tolist()
    assert read.operators[:-1].tolist() == table["operator"].tolist()


def test_the_shipped_table_is_small_and_sorted() -> None:
    from importlib import resources

    data = resources.files("targetsms_analytics").joinpath("data", "numbering.csv.gz").read_bytes()
    assert len(data) < 200_000
    table = read_table(data)
    assert np.all(table.starts[1:] > table.ends[:-1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot read"),
        ("a;b;c\n1;2;3\n", "columns"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n", "no ranges"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;x;1;A;B;1\n", "line 2: До"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;5;4;0;A;B;1\n", "line 2: До is before"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;9;11;A;B;1\n", "Емкость"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n495;0;9;10;A;B;1\n", "mobile code"),
        ("АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;9;10;;B;1\n", "no Оператор"),
        (
            "АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;9;10;A;B;1\n900;5;19;15;A;B;1\n",
            "lines 2 and 3: ranges overlap",
        ),
        (
            "АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;9;10;A;B;1;extra\n",
            "line 2 has 8 fields",
        ),
    ],
)
def test_a_malformed_registry_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_registry(text, source="new.csv")
    assert info.value.code == "bad_registry"
    assert "new.csv" in str(info.value.text)


def test_a_corrupt_table_is_refused() -> None:
    with pytest.raises(InputError, match="not a numbering table"):
        read_table(b"not gzip", source="x.gz")
    with pytest.raises(InputError, match="not a"):
        read_table(gzip.compress(b"start;end\n1;2\n"), source="x.gz")


def test_a_user_table_is_preferred_and_names_its_date(monkeypatch, tmp_path, sample) -> None:
    path = tmp_path / "numbering.csv.gz"
    monkeypatch.setenv(numbering.NUMBERING_ENV, str(path))
    assert numbering.registry_date() == "2023"
    table = build_table(sample).assign(operator="Новый")
    path.write_bytes(table_bytes(table, registry_date="2030-01-01", source="test"))
    found = lookup_numbers(_msisdns(sample["АВС/ DEF"].head(1), sample["От"].head(1)))
    assert found.attrs["registry_date"] == numbering.registry_date() == "2030-01-01"
    assert found["operator"].tolist() == ["Новый"]


# ----------------------------------------------------------------- targetsms numbering update


def _cli(*args: str):
    from click.testing import CliRunner

    from targetsms_analytics.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def user_table(monkeypatch, tmp_path) -> Path:
    path = tmp_path / "data" / "numbering.csv.gz"
    monkeypatch.setenv(numbering.NUMBERING_ENV, str(path))
    return path


def test_update_builds_the_users_table_and_lookups_use_it(user_table, sample) -> None:
    assert numbering.table_info()["path"] == "shipped"
    result = _cli("numbering", "update", "--force", str(SAMPLE), "--date", "2031-02-03")
    assert result.exit_code == 0, result.output
    assert f"{len(sample)} ranges" in result.output and "2031-02-03" in result.output
    assert user_table.is_file() and [p.name for p in user_table.parent.iterdir()] == [
        user_table.name
    ]
    found = lookup_numbers(_msisdns(sample["АВС/ DEF"], sample["До"]))
    assert found.attrs["registry_date"] == "2031-02-03"
    assert (found["operator"] != "unknown").all()
    # a range the sample does not hold: the user's table is the one in use, not the shipped one
    sampled = set(build_table(sample)["start"])
    missing = next(int(s) for s in numbering._shipped_table().starts if int(s) not in sampled)
    assert lookup_numbers([f"7{missing}"])["operator"].iat[0] == "unknown"
    info = _cli("numbering", "info").output
    assert "registry_date: 2031-02-03" in info and f"path: {user_table}" in info
    assert "DEF-9xx-sample.csv sha256:" in info


def test_update_dates_the_registry_by_the_file_when_not_told(user_table, tmp_path) -> None:
    import os

    copy = tmp_path / "DEF-9xx.csv"
    copy.write_bytes(SAMPLE.read_bytes())
    when = datetime(2025, 3, 4, 12).timestamp()
    os.utime(copy, (when, when))
    assert _cli("numbering", "update", "--force", str(copy)).exit_code == 0
    assert numbering.registry_date() == "2025-03-04"


def test_update_reads_a_cp1251_registry(user_table, tmp_path) -> None:
    copy = tmp_path / "cp1251.csv"
    copy.write_bytes(SAMPLE.read_text(encoding="utf-8-sig").encode("cp1251"))
    assert _cli("numbering", "update", "--force", str(copy), "--date", "2024").exit_code == 0
    assert lookup_numbers(["79000000000"])["operator"].tolist() == ["Т2"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x98\x98",
        "АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;99;100;A;B\n900;100;x;1;A;B;1\n".encode(),
        "АВС/ DEF;От;До;Емкость;Оператор;Регион;ИНН\n900;0;99;100;A;B;1;2\n".encode(),
        b"code;from;to\n900;0;99\n",
    ],
)
def test_a_malformed_registry_never_replaces_the_table(
    user_table, tmp_path, sample, content
) -> None:
    assert _cli("numbering", "update", "--force", str(SAMPLE), "--date", "2030").exit_code == 0
    before = user_table.read_bytes()
    bad = tmp_path / "bad registry.csv"
    bad.write_bytes(content)
    result = _cli("numbering", "update", "--force", str(bad))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0], result.stderr
    assert user_table.read_bytes() == before
    assert [p.name for p in user_table.parent.iterdir()] == [user_table.name]  # no temp file left
    assert numbering.registry_date() == "2030"


def test_update_of_a_missing_file_names_it(user_table, tmp_path) -> None:
    result = _cli("numbering", "update", "--force", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "nope.csv" in result.output + result.stderr
    assert not user_table.exists()


def test_update_refuses_a_date_that_is_not_one(user_table) -> None:
    result = _cli("numbering", "update", "--force", str(SAMPLE), "--date", "2024\n# format: x")
    assert result.exit_code == 2 and "registry date" in result.stderr
    assert not user_table.exists()


def test_the_readme_example_is_what_lookup_numbers_prints() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Operator, region and time zone") :]
    example = section[
        section.index("```python\n") + 10 : section.index("```", section.index("```python") + 9)
    ]
    call = example.splitlines()[0]
    printed = [line.removeprefix("# ") for line in example.splitlines()[1:5]]
    frame = eval(call, {"ts": ts})
    assert frame.to_string().splitlines() == printed


def test_lookup_in_chunks_gives_what_one_chunk_gives(monkeypatch) -> None:
    values = ["79161234567", "x", "79221234567", None, "79031234567", "74951234567", "79991234567"]
    whole = lookup_numbers(values)
    monkeypatch.setattr(numbering, "_CHUNK", 2)
    pd.testing.assert_frame_equal(lookup_numbers(values), whole)
    assert whole["operator"].tolist() == ["МТС", "unknown", "МегаФон", "unknown", "Билайн",
                                          "unknown", "Скартел"]  # fmt: skip


@given(st.text(max_size=40))
def test_brand_of_operator_is_idempotent_and_never_empty_for_a_name(name: str) -> None:
    brand = brand_of_operator(name)
    assert brand_of_operator(brand) == brand or not brand.strip()
    if name.strip():
        assert brand.strip()


def test_an_unusable_user_table_falls_back_to_the_shipped_one_with_a_warning(user_table) -> None:
    user_table.parent.mkdir(parents=True)
    user_table.write_bytes(gzip.compress(b"# targetsms-numbering 99\nstart;end\n"))
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        found = lookup_numbers(["79161234567"])
    assert found["operator"].tolist() == ["МТС"] and found.attrs["registry_date"] == "2023"


def test_the_shipped_table_is_what_the_build_script_makes_of_the_registry() -> None:
    import hashlib
    from importlib import resources

    raw = _raw(FULL)
    source = f"DEF-9xx.csv sha256:{hashlib.sha256(raw).hexdigest()}"
    rebuilt = table_bytes(build_table(_registry(FULL)), registry_date="2023", source=source)
    shipped = resources.files("targetsms_analytics").joinpath("data", "numbering.csv.gz")
    # compared uncompressed: another zlib may compress the same text to other bytes
    assert gzip.decompress(rebuilt) == gzip.decompress(shipped.read_bytes()), (
        "run scripts/build_numbering.py and commit the table"
    )


def test_update_refuses_an_extract_of_the_registry_unless_forced(user_table) -> None:
    """Review: a one-range file replaced the whole table; every other number became unknown."""
    result = _cli("numbering", "update", str(SAMPLE), "--date", "2031-02-03")
    assert result.exit_code == 2 and "--force" in result.output
    assert not user_table.exists() and numbering.table_info()["path"] == "shipped"
    forced = _cli("numbering", "update", "--force", str(SAMPLE), "--date", "2031-02-03")
    assert forced.exit_code == 0 and "(given)" in forced.output
