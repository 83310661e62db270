from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import phpserialize
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics import protocol as p
from targetsms_analytics.errors import ERROR_TEXTS, TargetSMSError

# Real PHP 8.2 serialize() output (see docs/protocol.md, "detailed status"), kept in the repo.
SAMPLES = Path(__file__).resolve().parent / "data" / "php-serialize-samples.txt"
MANUAL_BALANCE = (
    "445.6 RUR\n"
    "Россия:361,МТС:1,Мегафон:1,Skylink:1,Yota:1,Байкалвестком:1,Уралсвязьинформ:1,"
    "Енисейтелеком:1,НСС:1,Мотив:1,Tele2:1,СМАРТС:1,Ростелеком:1,BeeLine:1,Остальные:1"
)
MSK = p.MOSCOW


# ---------------------------------------------------------------- requests


def test_send_url_keeps_commas_and_encodes_utf8():
    url = p.build_url(
        ts.DEFAULT_URL, p.send_params("me", "p&w", "SHOP", ["79001234567", "79001234568"], "Тест 1")
    )
    assert "dadr=79001234567,79001234568&" in url
    assert "%2C" not in url
    assert "pwd=p%26w&" in url
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {
        "user": "me",
        "pwd": "p&w",
        "sadr": "SHOP",
        "dadr": "79001234567,79001234568",
        "text": "Тест 1",
    }


def test_one_cyrillic_letter_costs_six_characters():
    base = len(p.build_url(ts.DEFAULT_URL, p.send_params("u", "p", "S", ["7"], "")))
    assert len(p.build_url(ts.DEFAULT_URL, p.send_params("u", "p", "S", ["7"], "Ж"))) == base + 6


def test_status_and_balance_params():
    assert p.status_params("u", "p", 5) == [("user", "u"), ("pwd", "p"), ("smsid", "5")]
    assert p.status_params("u", "p", "5", detail=True)[-1] == ("detail", "1")
    assert p.balance_params("u", "p")[-1] == ("balance", "1")


@settings(deadline=None)  # a busy machine is no failure
@given(st.text(min_size=1), st.lists(st.text(alphabet="0123456789", min_size=1), min_size=1))
def test_send_url_roundtrips_any_text(text, phones):
    url = p.build_url(ts.DEFAULT_URL, p.send_params("u", "pw", "S", phones, text))
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert query["text"] == text
    assert query["dadr"].split(",") == phones


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("code", sorted(ERROR_TEXTS))
def test_every_error_text_maps_to_its_code(code):
    text = ERROR_TEXTS[code]
    assert p.match_error(text) == code
    assert p.match_error(f"  {text}\r\n") == code
    assert p.match_error(text.upper()) == code
    assert p.match_error(text.rstrip(".")) == code
    assert p.match_error(text.replace(" ", "  ")) == code
    with pytest.raises(ts.TargetSMSError) as info:
        p.check_answer(text)
    assert info.value.code == code and info.value.text == text


@pytest.mark.parametrize("code", sorted(ERROR_TEXTS))
def test_every_parser_raises_the_api_error(code):
    for parse in (
        lambda t: p.parse_send(t, 1),
        p.parse_status,
        p.parse_status_detail,
        p.parse_balance,
    ):
        with pytest.raises(ts.TargetSMSError) as info:
            parse(ERROR_TEXTS[code])
        assert info.value.code == code


def test_other_text_is_not_an_error():
    assert p.match_error("deliver") is None
    assert p.match_error("Аккаунт") is None


# ---------------------------------------------------------------- send and status


def test_parse_send_manual_examples():
    assert p.parse_send("1179038981", 1) == ["1179038981"]
    assert p.parse_send("1178440060,1178440061\n", 2) == ["1178440060", "1178440061"]


@pytest.mark.parametrize(
    "text,expected", [("1178440060", 2), ("1,2,3", 2), ("", 1), ("ok", 1), ("1,,2", 3)]
)
def test_parse_send_rejects_a_wrong_count_or_garbage(text, expected):
    with pytest.raises(ts.UnknownResponseError) as info:
        p.parse_send(text, expected)
    assert info.value.code == "unknown_response"


@pytest.mark.parametrize("state", p.STATES)
def test_parse_status_every_state(state):
    assert p.parse_status(f"{state}\n") == state


def test_parse_status_unknown_word_keeps_the_text():
    with pytest.raises(ts.UnknownResponseError) as info:
        p.parse_status("SMS с таким ID не найдена")
    assert "не найдена" in info.value.text


# ---------------------------------------------------------------- detailed status


def _samples():
    return [
        line.strip()
        for line in SAMPLES.read_text(encoding="utf-8").splitlines()
        if line.startswith("a:")
    ]


def test_real_php_samples_parse():
    details = [p.parse_status_detail(line) for line in _samples()]
    assert [d.state for d in details] == [
        "deliver",
        "deliver",
        "send",
        "not_deliver",
        "partly_deliver",
    ]
    first, as_strings, pending, numeric_id, with_comment = details
    assert first == as_strings
    assert first.changed_at == datetime(2011, 1, 1, 12, 57, 46, tzinfo=MSK)
    assert first.changed_at.utcoffset().total_seconds() == 3 * 3600
    assert (first.num_parts, first.price) == (2, 1.15)
    assert first.cost == pytest.approx(2.3)
    assert pending.changed_at is None and pending.price == 0.8 and not pending.is_final
    assert numeric_id.sms_id == "1178440061" and numeric_id.price == 2.0
    assert with_comment.num_parts == 4 and with_comment.is_final


@pytest.mark.parametrize(
    "text",
    [
        'a:1:{s:6:"id_sms";s:1:"1";}',
        "a:5:{broken",
        's:3:"abc";',
        'a:5:{s:6:"id_sms";s:1:"1";s:17:"time_change_state";s:0:"";s:9:"state_sms";'
        's:4:"lost";s:9:"num_parts";i:1;s:5:"price";d:1;}',
        'a:5:{s:6:"id_sms";s:1:"1";s:17:"time_change_state";s:5:"soon!";s:9:"state_sms";'
        's:4:"send";s:9:"num_parts";i:1;s:5:"price";d:1;}',
    ],
)
def test_bad_detail_is_unknown_response(text):
    with pytest.raises(ts.UnknownResponseError):
        p.parse_status_detail(text)


def _php_string(value: str) -> str:
    return f's:{len(value.encode("utf-8"))}:"{value}";'


@settings(deadline=None)  # a busy machine is no failure
@given(
    sms_id=st.integers(min_value=1, max_value=10**12),
    state=st.sampled_from(p.STATES),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    parts=st.integers(min_value=1, max_value=20),
    price=st.decimals(min_value=0, max_value=100, places=2),
    as_strings=st.booleans(),
    extra=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=3),
)
def test_any_serialized_array_of_the_right_keys_parses(
    sms_id, state, when, parts, price, as_strings, extra
):
    when = when.replace(microsecond=0)
    stamp = "" if state == "send" else when.strftime("%Y-%m-%d %H:%M:%S")
    data = {
        "id_sms": str(sms_id) if as_strings else sms_id,
        "time_change_state": stamp,
        "state_sms": state,
        "num_parts": str(parts) if as_strings else parts,
        "price": str(price) if as_strings else float(price),
    }
    for key, value in extra.items():
        data.setdefault(f"x_{key}", value)
    text = phpserialize.dumps(data).decode("utf-8")
    detail = p.parse_status_detail(text)
    assert detail.sms_id == str(sms_id)
    assert detail.state == state
    assert detail.num_parts == parts
    assert detail.price == pytest.approx(float(price))
    assert detail.cost == pytest.approx(parts * float(price))
    if state == "send":
        assert detail.changed_at is None
    else:
        assert detail.changed_at == when.replace(tzinfo=MSK)


def test_cyrillic_values_are_counted_in_bytes():
    text = (
        "a:6:{"
        + _php_string("id_sms")
        + _php_string("42")
        + _php_string("time_change_state")
        + _php_string("")
        + _php_string("state_sms")
        + _php_string("send")
        + _php_string("num_parts")
        + "i:1;"
        + _php_string("price")
        + "d:0.8;"
        + _php_string("comment")
        + _php_string("Статус не получен")
        + "}"
    )
    assert p.parse_status_detail(text).sms_id == "42"


# ---------------------------------------------------------------- balance


def test_manual_balance_example():
    balance = p.parse_balance(MANUAL_BALANCE)
    assert balance.amount == 445.6 and balance.currency == "RUR"
    assert list(balance.packages.columns) == ["direction", "remaining"]
    assert len(balance.packages) == 15
    assert balance.packages.iloc[0].tolist() == ["Россия", 361]
    assert balance.packages["remaining"].sum() == 375


@pytest.mark.parametrize(
    "text",
    [
        "445.6 RUR,Россия:361,МТС:1",
        "445.6 RUR\r\nРоссия:361\nМТС:1",
        "  445.6   RUR \n Россия : 361 , МТС:1 ,",
    ],
)
def test_balance_pairs_after_newline_or_comma(text):
    balance = p.parse_balance(text)
    assert balance.amount == 445.6 and balance.currency == "RUR"
    assert balance.packages["direction"].tolist() == ["Россия", "МТС"]
    assert balance.packages["remaining"].tolist() == [361, 1]


def test_balance_without_packages():
    balance = p.parse_balance("0 RUR")
    assert balance.amount == 0 and balance.packages.empty


@pytest.mark.parametrize("text", ["RUR 10", "10 RUR\nМТС", "10 RUR\nМТС:много"])
def test_bad_balance_is_unknown_response(text):
    with pytest.raises(ts.UnknownResponseError):
        p.parse_balance(text)


direction_names = st.text(
    # Zl/Zp (U+2028, U+2029) are whitespace to str.strip(): a name of only those would be empty.
    alphabet=st.characters(
        blacklist_characters=",:\n\r", blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")
    ),
    min_size=1,
    max_size=20,
)


@settings(deadline=None)  # a busy machine is no failure
@given(
    amount=st.decimals(min_value=-1000, max_value=10**7, places=2),
    currency=st.sampled_from(["RUR", "RUB", "USD", "EUR"]),
    packages=st.lists(st.tuples(direction_names, st.integers(0, 10**6)), max_size=20),
    separator=st.sampled_from(["\n", ",", "\r\n"]),
)
def test_any_printed_balance_parses_back(amount, currency, packages, separator):
    pairs = ",".join(f"{name}:{count}" for name, count in packages)
    text = f"{amount} {currency}" + (separator + pairs if pairs else "")
    balance = p.parse_balance(text)
    assert balance.amount == pytest.approx(float(amount))
    assert balance.currency == currency
    assert balance.packages["direction"].tolist() == [name.strip() for name, _ in packages]
    assert balance.packages["remaining"].tolist() == [count for _, count in packages]


# ---------------------------------------------------------------- redaction


SECRET = "p@ss&w%rd+Пароль"


def test_redaction_removes_raw_and_encoded_password():
    url = p.build_url(ts.DEFAULT_URL, p.balance_params("me", SECRET))
    assert SECRET not in url and quote(SECRET, safe="") in url
    for text in (
        url,
        f"failed: {url}",
        f"raw {SECRET} end",
        f"plus {SECRET.replace(' ', '+')}",
        quote(SECRET, safe="").lower(),
        f"/sendsms.php?pwd={quote(SECRET)}&user=me",
    ):
        clean = p.redact(text, [SECRET])
        assert SECRET not in clean
        assert quote(SECRET, safe="") not in clean
        assert quote(SECRET, safe="").lower() not in clean
        assert "Пароль" not in clean


def test_redaction_of_pwd_values_even_without_the_secret():
    assert p.redact("a?user=u&pwd=whatever&x=1", []) == "a?user=u&pwd=***&x=1"


@settings(deadline=None)  # a busy machine is no failure
@given(st.text(min_size=1, max_size=30))
@example("*")  # a secret made of the marker's own characters
def test_redaction_never_leaves_the_secret(secret):
    url = p.build_url(ts.DEFAULT_URL, p.balance_params("me", secret))
    clean = p.redact(f"{url} and {secret}", [secret]).replace(p.REDACTED, "")
    assert secret not in clean
    assert quote(secret, safe=",") not in clean


def test_redaction_of_lower_case_escapes_keeps_the_letters():
    secret = "Secret/Key"
    assert p.redact("url: pwd-ish Secret%2fKey end", [secret]) == "url: pwd-ish *** end"
    assert p.redact("url: Secret%2FKey", [secret]) == "url: ***"


def test_unknown_answers_are_redacted_before_they_are_kept():
    echo = f"Bad request: /sendsms.php?user=me&pwd={quote(SECRET)} and {SECRET}"
    for parse in (
        lambda t, s: p.parse_send(t, 1, secrets=s),
        lambda t, s: p.parse_status(t, secrets=s),
        lambda t, s: p.parse_status_detail(t, secrets=s),
        lambda t, s: p.parse_balance(t, secrets=s),
    ):
        with pytest.raises(ts.UnknownResponseError) as info:
            parse(echo, [SECRET])
        assert SECRET not in info.value.text and quote(SECRET) not in info.value.text
        assert "Bad request" in info.value.text


def test_a_truncated_unknown_answer_leaves_no_part_of_the_password():
    secret = "Z" * 40
    text = "x" * (p.MAX_KEPT_TEXT - 10) + secret
    with pytest.raises(ts.UnknownResponseError) as info:
        p.parse_status(text, secrets=[secret])
    assert "ZZZZZ" not in info.value.text


def test_send_ids_are_ascii_digits():
    with pytest.raises(ts.UnknownResponseError):
        p.parse_send("١٢٣", 1)


def test_an_id_sent_as_a_php_float_is_still_an_id():
    text = (
        'a:5:{s:6:"id_sms";d:1178440061;s:17:"time_change_state";s:0:"";'
        's:9:"state_sms";s:4:"send";s:9:"num_parts";d:2;s:5:"price";d:1;}'
    )
    detail = p.parse_status_detail(text)
    assert (detail.sms_id, detail.num_parts, detail.price) == ("1178440061", 2, 1.0)


def test_a_bad_detail_carries_no_chained_exception():
    with pytest.raises(ts.UnknownResponseError) as info:
        p.parse_status_detail("a:5:{broken")
    assert info.value.__context__ is None and info.value.__cause__ is None


# ---------------------------------------------------------------- local checks (validate_send)


def test_validate_send_lives_in_the_protocol_layer():
    from targetsms_analytics import client

    assert p.validate_send.__module__ == "targetsms_analytics.protocol"
    assert client.validate_send is p.validate_send  # the client imports it


@pytest.mark.parametrize(
    "args,code",
    [
        (("", ["79161234567"], "x"), "sender_missing"),
        ((None, ["79161234567"], "x"), "sender_missing"),
        (("ABCDEFGHIJKL", ["79161234567"], "x"), "sender_too_long"),
        (("1234567890123456", ["79161234567"], "x"), "sender_too_long"),
        (("SHOP", ["79161234567"], " \n"), "text_missing"),
        (("SHOP", [], "x"), "phone_missing"),
        (("SHOP", ["79161234567", ""], "x"), "phone_missing"),
        (("SHOP", ["7916123456789012"], "x"), "phone_too_long"),
        (("SHOP", ["79161234567"], "\x00"), "text_invalid"),
        (("SHOP", ["79161234567"], "Привет\x00!"), "text_invalid"),
    ],
)
def test_validate_send_raises_the_codes_the_service_would(args, code):
    with pytest.raises(TargetSMSError) as info:
        p.validate_send(*args)
    assert info.value.code == code


def test_a_nul_in_the_text_is_an_input_error_naming_the_field():
    from targetsms_analytics.errors import InputError

    with pytest.raises(InputError) as info:
        p.validate_send("SHOP", ["79161234567"], "a\x00b")
    assert info.value.field == "text" and "NUL" in info.value.text


@settings(deadline=None)  # a busy machine is no failure
@given(st.text().filter(lambda t: t.strip() and "\x00" not in t))
def test_any_text_without_nul_passes_the_local_checks(text):
    p.validate_send("SHOP", ["79161234567"], text)


@settings(deadline=None)  # a busy machine is no failure
@given(st.text(min_size=0, max_size=20), st.text(min_size=0, max_size=20))
def test_any_text_with_a_nul_is_refused(before, after):
    with pytest.raises(TargetSMSError) as info:
        p.validate_send("SHOP", ["79161234567"], f"{before}\x00{after}")
    assert info.value.code in ("text_invalid", "text_missing")


@settings(deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(max_size=40), st.text(max_size=40))
def test_redact_forms_equals_redact(secret, before, after):
    """The log filter's precomputed forms hide exactly what ``redact`` hides."""
    text = f"{before}{secret}{after} {quote(secret, safe='')} pwd={secret}"
    assert p.redact_forms(text, p.secret_forms(secret)) == p.redact(text, [secret])
