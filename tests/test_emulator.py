"""Tests of the emulator itself, over real HTTP: raw text answers, no client code involved."""

from __future__ import annotations

import ast
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phpserialize
import pytest
import requests

from targetsms_analytics import emulator as emulator_pkg
from targetsms_analytics.emulator import FIRST_SMS_ID, Emulator, php_serialize, sms_parts
from targetsms_analytics.emulator import server as server_mod
from targetsms_analytics.emulator import texts as emu_texts
from targetsms_analytics.emulator.__main__ import build_parser

# The error texts, copied from docs/protocol.md by hand (double entry against the emulator's texts.py).
API_TEXTS = {
    "provider_out_of_sms": "У нас закончились SMS. Для разрешения проблемы свяжитесь с менеджером.",
    "out_of_sms": "Закончились SMS.",
    "account_blocked": "Аккаунт заблокирован.",
    "phone_missing": "Укажите номер телефона.",
    "phone_stop_listed": "Номер телефона присутствует в стоп-листе.",
    "direction_closed_for_account": "Данное направление закрыто для вас.",
    "direction_closed": "Данное направление закрыто.",
    "insufficient_funds": "Недостаточно средств для отправки SMS. SMS будет отправлена как только "
    "вы пополните счет по данному направлению.",
    "text_rejected": "Текст SMS отклонен модератором.",
    "sender_missing": "Нет отправителя.",
    "sender_too_long": "Отправитель не должен превышать 15 символов для цифровых номеров и "
    "11 символов для буквенно-числовых.",
    "phone_too_long": "Номер телефона должен быть меньше 15 символов.",
    "text_missing": "Нет текста сообщения.",
    "link_missing": "Нет ссылки.",
    "sender_unknown": "Такого отправителя Нет.",
    "sender_not_moderated": "Отправитель не прошел модерацию.",
    "duplicate_request": "error: Попытка отправки более одного одинакового запроса в течение минуты",
}
DEMO = {"user": "demo", "pwd": "demo"}
MTS, BEELINE, TELE2 = "79161234567", "79031234567", "79501234567"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never route loopback through a proxy from the environment
    return session


HTTP = _session()


def call(emu: Emulator, session: requests.Session | None = None, **params: object) -> str:
    """One GET, asserting the plain-text 200 contract; returns the body."""
    response = (session or HTTP).get(emu.url, params=params, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    return response.text


def send(
    emu: Emulator, phones: str, text: str = "Hello", sender: str = "SHOP", **kw: object
) -> str:
    return call(emu, **{**DEMO, "sadr": sender, "dadr": phones, "text": text, **kw})


@pytest.fixture
def emu():
    with Emulator(throttle_interval=0, speed=0) as e:  # states move only by e.advance()
        yield e


# ------------------------------------------------------------------------------ texts


def test_error_texts_match_the_table():
    assert set(emu_texts.API_ERROR_TEXTS) == set(API_TEXTS.values())
    assert emu_texts.BAD_CREDENTIALS not in API_TEXTS.values()
    assert emu_texts.UNKNOWN_SMS_ID not in API_TEXTS.values()


def test_error_texts_match_the_repos_protocol_page():
    protocol = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
    errors = protocol.read_text(encoding="utf-8").split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|", errors, re.M)
    assert dict(rows) == API_TEXTS


# ------------------------------------------------------------------------------ errors

ERROR_CASES = [
    ("sender_missing", {"dadr": MTS, "text": "hi"}),
    ("sender_missing", {"sadr": "", "dadr": MTS, "text": "hi"}),
    ("sender_too_long", {"sadr": "ABCDEFGHIJKL", "dadr": MTS, "text": "hi"}),
    ("sender_too_long", {"sadr": "7900123456789012", "dadr": MTS, "text": "hi"}),
    ("sender_unknown", {"sadr": "ABCDEFGHIJK", "dadr": MTS, "text": "hi"}),
    ("sender_unknown", {"sadr": "790012345678901", "dadr": MTS, "text": "hi"}),
    ("sender_not_moderated", {"sadr": "NEWBRAND", "dadr": MTS, "text": "hi"}),
    ("text_missing", {"sadr": "SHOP", "dadr": MTS}),
    ("text_missing", {"sadr": "SHOP", "dadr": MTS, "text": "   "}),
    ("text_rejected", {"sadr": "SHOP", "dadr": MTS, "text": "Лучшее КАЗИНО тут"}),
    ("link_missing", {"sadr": "LINKS", "dadr": MTS, "text": "no link here"}),
    ("phone_missing", {"sadr": "SHOP", "text": "hi"}),
    ("phone_missing", {"sadr": "SHOP", "dadr": "", "text": "hi"}),
    ("phone_missing", {"sadr": "SHOP", "dadr": f"{MTS},", "text": "hi"}),
    ("phone_too_long", {"sadr": "SHOP", "dadr": "791612345678901", "text": "hi"}),
    ("phone_stop_listed", {"sadr": "SHOP", "dadr": "79000000000", "text": "hi"}),
    ("direction_closed_for_account", {"sadr": "SHOP", "dadr": "77011234567", "text": "hi"}),
    ("direction_closed", {"sadr": "SHOP", "dadr": "19161234567", "text": "hi"}),
    ("direction_closed", {"sadr": "SHOP", "dadr": "+79161234567", "text": "hi"}),
    ("direction_closed", {"sadr": "SHOP", "dadr": "7916123", "text": "hi"}),
]


@pytest.mark.parametrize(("code", "params"), ERROR_CASES)
def test_send_errors(emu, code, params):
    assert call(emu, **DEMO, **params) == API_TEXTS[code]
    assert emu.messages == {}
    assert emu.log[-1]["ids"] == []
    assert emu.balance_of("demo") == 445.6


def test_account_blocked_for_every_operation(emu):
    creds = {"user": "blocked", "pwd": "blocked"}
    assert call(emu, **creds, balance=1) == API_TEXTS["account_blocked"]
    assert call(emu, **creds, smsid=FIRST_SMS_ID) == API_TEXTS["account_blocked"]
    assert call(emu, **creds, sadr="SHOP", dadr=MTS, text="x") == API_TEXTS["account_blocked"]


def test_provider_out_of_sms():
    with Emulator(throttle_interval=0, provider_sms_left=2) as emu:
        assert send(emu, f"{MTS},{BEELINE}").count(",") == 1
        assert send(emu, MTS) == API_TEXTS["provider_out_of_sms"]
        assert emu.provider_sms_left == 0 and len(emu.messages) == 2


def test_out_of_sms_for_package_only_account(emu):
    emu.add_account("pk", "pk", balance=100, packages={"Россия": 2}, package_only=True)
    creds = {"user": "pk", "pwd": "pk", "sadr": "SHOP", "text": "hi"}
    assert call(emu, **creds, dadr=MTS) == str(FIRST_SMS_ID)
    assert call(emu, **creds, dadr=f"{MTS},{TELE2}") == API_TEXTS["out_of_sms"]
    assert call(emu, **creds, dadr=TELE2) == str(FIRST_SMS_ID + 1)
    assert call(emu, **creds, dadr=TELE2) == API_TEXTS["out_of_sms"]
    assert emu.balance_of("pk") == 100


def test_link_present_passes(emu):
    assert send(emu, MTS, "Sale: HTTPS://shop.example/x", sender="LINKS").isdigit()


def test_wrong_credentials_and_unknown_id_are_not_api_texts(emu):
    wrong = "Неверный логин или пароль"
    assert call(emu, user="demo", pwd="nope", balance=1) == wrong
    assert call(emu, user="ghost", pwd="demo", balance=1) == wrong
    assert call(emu, balance=1) == wrong
    assert call(emu, **DEMO, smsid="123") == "SMS с таким ID не найдена"
    emu.add_account("other", "other", balance=10)
    sms_id = send(emu, MTS)
    assert call(emu, user="other", pwd="other", smsid=sms_id) == "SMS с таким ID не найдена"


def test_check_order(emu):
    assert call(emu, **DEMO) == API_TEXTS["sender_missing"]
    assert call(emu, **DEMO, sadr="NOBODY") == API_TEXTS["sender_unknown"]
    assert call(emu, **DEMO, sadr="SHOP") == API_TEXTS["text_missing"]
    assert call(emu, **DEMO, sadr="LINKS", text="казино") == API_TEXTS["text_rejected"]
    assert call(emu, **DEMO, sadr="LINKS", text="x") == API_TEXTS["link_missing"]
    assert call(emu, **DEMO, sadr="SHOP", text="x") == API_TEXTS["phone_missing"]
    # number by number, the first bad number answers
    assert send(emu, "19161234567,79000000000") == API_TEXTS["direction_closed"]
    assert send(emu, "79000000000,19161234567") == API_TEXTS["phone_stop_listed"]


def test_one_bad_number_refuses_the_whole_request(emu):
    assert send(emu, f"{MTS},{BEELINE},79000000000") == API_TEXTS["phone_stop_listed"]
    assert emu.messages == {} and emu.sent_phones() == []
    assert emu.log[-1]["phones"] == [MTS, BEELINE, "79000000000"]


# ------------------------------------------------------------------------------ send


def test_send_one_and_several(emu):
    assert send(emu, MTS) == str(FIRST_SMS_ID)
    answer = send(emu, f"{TELE2}, {BEELINE},{MTS}")
    ids = answer.split(",")
    assert ids == [str(FIRST_SMS_ID + i) for i in (1, 2, 3)]
    assert [emu.messages[i].phone for i in ids] == [TELE2, BEELINE, MTS]
    assert [emu.messages[i].operator for i in ids] == ["Tele2", "BeeLine", "МТС"]
    assert emu.sent_phones() == [MTS, TELE2, BEELINE, MTS]
    entry = emu.log[-1]
    assert entry["op"] == "send" and entry["ids"] == ids and entry["fault"] is None
    assert "pwd" not in entry["params"] and entry["params"]["user"] == "demo"
    assert "pwd=***&" in entry["query"] and "pwd=demo" not in entry["query"]
    assert entry["query"].startswith("user=demo&")
    assert entry["answer"] == answer


def test_text_is_utf8_and_plus_is_a_space(emu):
    sms_id = call(emu, **DEMO, sadr="SHOP", dadr=MTS, text="Привет + мир €")
    assert emu.messages[sms_id].text == "Привет + мир €"
    raw = HTTP.get(f"{emu.url}?user=demo&pwd=demo&sadr=SHOP&dadr={MTS}&text=a+b%20c", timeout=5)
    assert emu.messages[raw.text].text == "a b c"


def test_balance_exact_format(emu):
    assert call(emu, **DEMO, balance=1) == (
        "445.6 RUR\nРоссия:20,МТС:2,Мегафон:2,Skylink:0,Yota:1,Байкалвестком:0,"
        "Уралсвязьинформ:0,Енисейтелеком:0,НСС:0,Мотив:0,Tele2:2,СМАРТС:0,Ростелеком:0,"
        "BeeLine:2,Остальные:0"
    )
    emu.add_account("plain", "plain", balance=100)
    assert call(emu, user="plain", pwd="plain", balance=1) == "100 RUR"


def test_balance_goes_down_by_parts_times_price(emu):
    emu.add_account("cash", "cash", balance=100)
    text = "ж" * 71  # UCS-2: two parts
    ids = call(emu, user="cash", pwd="cash", sadr="SHOP", dadr=f"{MTS},{TELE2}", text=text)
    assert call(emu, user="cash", pwd="cash", balance=1) == "95.8 RUR"  # 100 - 2*1.15 - 2*0.95
    a, b = (emu.messages[i] for i in ids.split(","))
    assert (a.parts, a.price, a.paid_from, b.price) == (2, 1.15, "money", 0.95)


def test_package_consumption(emu):
    emu.add_account("pk", "pk", balance=10, packages={"МТС": 2, "Россия": 3})
    creds = {"user": "pk", "pwd": "pk", "sadr": "SHOP"}

    def balance():
        return call(emu, user="pk", pwd="pk", balance=1)

    call(emu, **creds, dadr=MTS, text="one")
    assert balance() == "10 RUR\nМТС:1,Россия:3"
    call(emu, **creds, dadr=MTS, text="я" * 100)  # two parts: МТС has 1, Россия pays
    assert balance() == "10 RUR\nМТС:1,Россия:1"
    call(emu, **creds, dadr=f"{MTS},{TELE2}", text="two")
    assert balance() == "10 RUR\nМТС:0,Россия:0"
    call(emu, **creds, dadr=TELE2, text="money")
    assert balance() == "9.05 RUR\nМТС:0,Россия:0"
    assert [m.paid_from for m in emu.messages.values()] == [
        "МТС",
        "Россия",
        "МТС",
        "Россия",
        "money",
    ]


def test_insufficient_funds_queues_then_top_up_issues(emu):
    emu.add_account("poor", "poor", balance=1.0)
    creds = {"user": "poor", "pwd": "poor", "sadr": "SHOP"}
    assert call(emu, **creds, dadr=f"{MTS},{BEELINE}", text="a") == API_TEXTS["insufficient_funds"]
    assert call(emu, **creds, dadr=TELE2, text="b" * 200) == API_TEXTS["insufficient_funds"]
    assert emu.messages == {} and len(emu.queue) == 2 and emu.balance_of("poor") == 1.0
    assert emu.top_up("poor", 1.0) == []  # 2.00 < 2.40: the first still cannot go, FIFO holds
    issued = emu.top_up("poor", 1.0)  # 3.00: the first goes (2.40), the second (1.90) waits
    assert issued == [str(FIRST_SMS_ID), str(FIRST_SMS_ID + 1)]
    assert emu.sent_phones("poor") == [MTS, BEELINE] and len(emu.queue) == 1
    assert emu.top_up("poor", 10) == [str(FIRST_SMS_ID + 2)]
    assert emu.messages[str(FIRST_SMS_ID + 2)].via_top_up and emu.queue == []
    assert call(emu, user="poor", pwd="poor", balance=1) == "8.7 RUR"  # 13 - 2.40 - 2*0.95


# ------------------------------------------------------------------------------ lifecycle


def test_lifecycle_before_and_after_advance():
    with Emulator(
        throttle_interval=0, speed=0, delivery_delay=(10, 20), outcomes={"expired": 1}
    ) as emu:
        sms_id = send(emu, MTS)
        assert call(emu, **DEMO, smsid=sms_id) == "send"
        detail = phpserialize.loads(
            call(emu, **DEMO, smsid=sms_id, detail=1).encode(), decode_strings=True
        )
        assert detail["state_sms"] == "send" and detail["time_change_state"] == ""
        emu.advance(5)
        assert emu.state_of(sms_id) == "send"
        emu.advance(20)
        assert call(emu, **DEMO, smsid=sms_id) == "expired" == emu.state_of(sms_id)
        message = emu.messages[sms_id]
        assert 10 <= (message.final_at - message.sent_at).total_seconds() <= 20
        assert message.final_at.utcoffset().total_seconds() == 3 * 3600  # Europe/Moscow
        detail = phpserialize.loads(
            call(emu, **DEMO, smsid=sms_id, detail=1).encode(), decode_strings=True
        )
        assert detail["time_change_state"] == message.final_at.strftime("%Y-%m-%d %H:%M:%S")
        emu.advance(10**6)
        assert emu.state_of(sms_id) == "expired" == message.state


def test_speed_runs_the_virtual_clock():
    with Emulator(throttle_interval=0, speed=1000, delivery_delay=(1, 2)) as emu:
        sms_id = send(emu, MTS)
        time.sleep(0.01)
        assert emu.state_of(sms_id) != "send"


def test_compressed_time_still_reports_the_configured_latency():
    """speed compresses when a state turns final, not the stamps: latency stays the delay."""
    # speed 0: virtual time passes only by advance() (at speed 100 a busy machine could let the
    # 0.3 s of real time that make 30 virtual seconds pass before the first look)
    with Emulator(throttle_interval=0, speed=0, delivery_delay=(30, 40)) as emu:
        emu.advance(30)  # 30 virtual seconds pass before the send
        before = datetime.now(ZoneInfo("Europe/Moscow"))
        sms_id = send(emu, MTS)
        after = datetime.now(ZoneInfo("Europe/Moscow"))
        assert emu.state_of(sms_id) == "send"
        emu.advance(45)  # 45 virtual seconds (no real time at all): final
        assert emu.state_of(sms_id) != "send"
        message = emu.messages[sms_id]
        assert before <= message.sent_at <= after  # the wall clock
        assert 30 <= (message.final_at - message.sent_at).total_seconds() <= 40


def test_outcomes_are_seeded():
    def fates(seed):
        with Emulator(throttle_interval=0, seed=seed) as emu:
            ids = send(emu, ",".join(f"7916{i:07d}" for i in range(1, 41))).split(",")
            return [emu.messages[i].final_state for i in ids]

    first = fates(7)
    assert first == fates(7)
    assert first.count("deliver") > 25 and set(first) <= {
        "deliver",
        "not_deliver",
        "expired",
        "partly_deliver",
    }


def test_detail_is_php_serialized_with_byte_counts():
    with Emulator(throttle_interval=0, outcomes={"partly_deliver": 1}) as emu:
        ids = send(emu, ",".join(f"7916{i:07d}" for i in range(1, 31)), "я" * 80).split(",")
        emu.advance(3600)
        types = set()
        for sms_id in ids:
            body = call(emu, **DEMO, smsid=sms_id, detail=1)
            assert body.startswith('a:6:{s:6:"id_sms";')
            assert 's:7:"comment";s:32:"Статус не получен";' in body  # 32 UTF-8 bytes
            data = phpserialize.loads(body.encode(), decode_strings=True)
            assert str(data["id_sms"]) == sms_id and data["state_sms"] == "partly_deliver"
            assert int(data["num_parts"]) == 2 and float(data["price"]) == 1.15
            types |= {type(data["id_sms"]), type(data["num_parts"]), type(data["price"])}
        assert types == {str, int, float}  # values vary between PHP strings and numbers


def test_php_serialize_matches_php_samples():
    assert php_serialize(
        {
            "id_sms": "1179038981",
            "time_change_state": "2011-01-01 12:57:46",
            "state_sms": "deliver",
            "num_parts": 2,
            "price": 1.15,
        }
    ) == (
        'a:5:{s:6:"id_sms";s:10:"1179038981";s:17:"time_change_state";s:19:"2011-01-01 12:57:46";'
        's:9:"state_sms";s:7:"deliver";s:9:"num_parts";i:2;s:5:"price";d:1.15;}'
    )
    assert php_serialize({"id_sms": 1178440061, "price": 2.0}) == (
        'a:2:{s:6:"id_sms";i:1178440061;s:5:"price";d:2;}'
    )
    assert php_serialize("Статус не получен") == 's:32:"Статус не получен";'
    assert php_serialize([None, True, 0.1, 1e25]) == "a:4:{i:0;N;i:1;b:1;i:2;d:0.1;i:3;d:1.0E+25;}"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # 160 septets
        ("{" * 81, 2),
        ("a" * 152 + "€" + "a" * 150, 2),  # 152 + 2 > 153: the escape pair moves whole
        ("a" * 152 + "€" + "a" * 152, 3),
        ("a" * 151 + "€" + "a" * 150, 2),
        ("ÄÖÑÜ§¿äöñüàΔ" * 13, 1),  # 156 septets, all GSM basic
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("a" * 159 + "я", 3),  # one non-GSM char: UCS-2
        ("😀" * 35, 1),  # 70 code units
        ("😀" * 36, 2),
        ("я" * 66 + "😀" + "я" * 66, 3),  # the surrogate pair does not fit in 67: moves whole
        ("я" * 65 + "😀" + "я" * 67, 2),
    ],
)
def test_parts(text, parts):
    assert sms_parts(text) == parts


def test_parts_reach_the_message(emu):
    sms_id = send(emu, MTS, "x" * 200)
    assert emu.messages[sms_id].parts == 2


# ------------------------------------------------------------------------------ throttle


def test_throttle_window_counts_from_last_accepted():
    now = [1000.0]  # the server's window clock, moved by hand: no real waits, no timing
    with Emulator(throttle_interval=1.0) as emu:
        emu.monotonic = lambda: now[0]
        first = call(emu, **DEMO, balance=1)
        assert first.startswith("445.6 RUR")
        assert call(emu, **DEMO, balance=1) == API_TEXTS["duplicate_request"]
        assert call(emu, user="demo", balance=1, pwd="demo") == first  # another raw query
        now[0] += 0.4
        assert call(emu, **DEMO, balance=1) == API_TEXTS["duplicate_request"]
        now[0] += 0.59  # 0.99 s after the accepted one: still inside
        assert call(emu, **DEMO, balance=1) == API_TEXTS["duplicate_request"]
        # 1.3 s after the accepted one but under 1 s after the refused ones: refusals do not
        # move the window
        now[0] += 0.31
        assert call(emu, **DEMO, balance=1) == first
        assert call(emu, **DEMO, balance=1) == API_TEXTS["duplicate_request"]  # a new window
        emu.expire_throttle()
        assert call(emu, **DEMO, balance=1) == first


def test_throttle_applies_to_sends(emu):
    emu.throttle_interval = 30
    assert send(emu, MTS).isdigit()
    assert send(emu, MTS) == API_TEXTS["duplicate_request"]
    assert send(emu, MTS, "other text").isdigit()
    assert emu.sent_phones() == [MTS, MTS]


# ------------------------------------------------------------------------------ faults


def test_error_5xx_before_processing(emu):
    emu.throttle_interval = 30
    emu.inject("error_5xx", count=3)
    params = {**DEMO, "sadr": "SHOP", "dadr": MTS, "text": "hi"}
    statuses = []
    for _ in range(3):
        response = HTTP.get(emu.url, params=params, timeout=5)
        statuses.append(response.status_code)
        assert "<html>" in response.text and response.headers["Content-Type"] == "text/html"
    assert statuses == [502, 503, 500]
    assert emu.messages == {}
    assert send(emu, MTS, "hi").isdigit()  # nothing processed: no throttle window either
    assert [e["fault"] for e in emu.log] == ["error_5xx"] * 3 + [None]


def test_reset_before_processing(emu):
    emu.throttle_interval = 30
    emu.inject("reset_before")
    with pytest.raises(requests.ConnectionError):
        send(emu, MTS)
    assert emu.messages == {}
    assert send(emu, MTS).isdigit()


def test_drop_after_processing(emu):
    emu.throttle_interval = 30
    emu.inject("drop_after", op="send")
    with pytest.raises(requests.ConnectionError):
        send(emu, f"{MTS},{TELE2}")
    assert emu.sent_phones() == [MTS, TELE2]
    assert emu.log[-1]["fault"] == "drop_after" and len(emu.log[-1]["ids"]) == 2
    assert send(emu, f"{MTS},{TELE2}") == API_TEXTS["duplicate_request"]  # it did arrive


def test_garble_after_processing(emu):
    emu.inject("garble", count=3)
    session = _session()
    html = session.get(emu.url, params={**DEMO, "balance": 1}, timeout=5)
    assert html.status_code == 200 and html.text.lstrip().startswith("<html>")
    with pytest.raises(requests.RequestException):  # truncated body, connection closed
        session.get(emu.url, params={**DEMO, "sadr": "SHOP", "dadr": MTS, "text": "x"}, timeout=5)
    empty = session.get(emu.url, params={**DEMO, "smsid": FIRST_SMS_ID}, timeout=5)
    assert empty.status_code == 200 and empty.text == ""
    assert emu.sent_phones() == [MTS]
    assert [e["fault"] for e in emu.log] == ["garble"] * 3
    assert call(emu, **DEMO, smsid=FIRST_SMS_ID) == "send"


def test_fault_op_filter_and_random_rates(emu):
    emu.inject("error_5xx", op="send")
    assert call(emu, **DEMO, balance=1).startswith("445.6")
    assert HTTP.get(emu.url, params={**DEMO, "sadr": "SHOP"}, timeout=5).status_code >= 500
    emu.fault_rates["drop_after"] = 1.0
    with pytest.raises(requests.ConnectionError):
        call(emu, **DEMO, balance=1)
    emu.clear_faults()
    assert call(emu, **DEMO, balance=1).startswith("445.6")
    with pytest.raises(ValueError):
        emu.inject("explode")


# ------------------------------------------------------------------------------ server


def test_keep_alive_and_nodelay(emu):
    session = _session()
    for i in range(2):
        call(emu, session, **DEMO, smsid=i)
    assert emu.log[0]["client"] == emu.log[1]["client"]  # the same TCP connection
    for i in range(50):
        call(emu, session, **DEMO, smsid=i)
    assert len({e["client"] for e in emu.log}) == 1


def test_latency_is_settable_and_not_under_the_lock(emu):
    waits: list[float] = []
    emu.sleep = waits.append
    emu.latency = 0.5
    call(emu, **DEMO, smsid=1)
    assert waits == [0.5]
    # Four requests wait out their latency together: under the lock, the first would wait alone
    # and the barrier would break (no wall-clock threshold: it holds on a busy machine).
    barrier = threading.Barrier(4, timeout=60)
    emu.sleep = lambda _seconds: barrier.wait()
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(call(emu, _session(), **DEMO, smsid=3)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not barrier.broken and len(answers) == 4
    emu.sleep = waits.append
    emu.latency = 0
    call(emu, **DEMO, smsid=2)
    assert waits == [0.5]  # no latency, no wait


def test_concurrent_sends_get_unique_ids(emu):
    answers: list[str] = []

    def worker(k):
        session = _session()
        for i in range(10):
            answers.append(
                call(emu, session, **DEMO, sadr="SHOP", dadr=f"7916{k:02d}{i:05d}", text="x")
            )

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 80 and all(a.isdigit() for a in answers)
    assert sorted(int(a) for a in answers) == list(range(FIRST_SMS_ID, FIRST_SMS_ID + 80))


def test_other_paths_404(emu):
    response = HTTP.get(emu.url.replace("sendsms.php", "index.php"), params=DEMO, timeout=5)
    assert response.status_code == 404
    assert emu.log[-1]["op"] == "none" and emu.log[-1]["status"] == 404


def test_stop_is_quick_and_closes_keep_alive_connections():
    emu = Emulator().start()
    session = _session()
    call(emu, session, **DEMO, balance=1)
    emu.stop()  # does not wait for the idle keep-alive connection (pytest-timeout would tell)
    with pytest.raises(RuntimeError):
        _ = emu.url
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{emu.port}/sendsms.php", params=DEMO, timeout=2)


def test_serve_prints_url_and_credentials(monkeypatch, capsys):
    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(server_mod.time, "sleep", interrupt)
    server_mod.serve(port=0)
    out = capsys.readouterr().out
    assert re.search(r"http://127\.0\.0\.1:\d+/sendsms\.php", out)
    assert "user=demo" in out and "pwd=demo" in out


def test_main_parser():
    args = build_parser().parse_args(["--port", "8123", "--speed", "60"])
    assert (args.port, args.speed, args.host, args.throttle_interval) == (8123, 60, "127.0.0.1", 60)


def test_emulator_imports_nothing_else_from_the_package():
    root = Path(emulator_pkg.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level == 1 or not module.startswith("targetsms_analytics"), path
                assert node.level <= 1, path
            elif isinstance(node, ast.Import):
                assert all(not a.name.startswith("targetsms_analytics") for a in node.names), path
