import pickle

import pytest

import targetsms_analytics as ts
from targetsms_analytics.errors import ERROR_TEXTS, error_for_code

FAMILIES = {
    "provider_out_of_sms": ts.AccountError,
    "out_of_sms": ts.AccountError,
    "account_blocked": ts.AccountError,
    "phone_missing": ts.RecipientError,
    "phone_stop_listed": ts.RecipientError,
    "direction_closed_for_account": ts.RecipientError,
    "direction_closed": ts.RecipientError,
    "phone_too_long": ts.RecipientError,
    "insufficient_funds": ts.QueuedForFundsError,
    "text_rejected": ts.ContentError,
    "text_missing": ts.ContentError,
    "link_missing": ts.ContentError,
    "sender_missing": ts.SenderError,
    "sender_too_long": ts.SenderError,
    "sender_unknown": ts.SenderError,
    "sender_not_moderated": ts.SenderError,
    "duplicate_request": ts.ThrottledError,
}


def test_every_api_code_has_a_text_and_a_family():
    assert set(ERROR_TEXTS) == set(FAMILIES)


@pytest.mark.parametrize("code", sorted(FAMILIES))
def test_error_for_code_builds_the_right_family(code):
    exc = error_for_code(code)
    assert type(exc) is FAMILIES[code]
    assert isinstance(exc, ts.TargetSMSError)
    assert exc.code == code
    assert exc.text == ERROR_TEXTS[code]
    assert exc.retryable is (code == "duplicate_request")


def test_unknown_and_transport_codes():
    assert isinstance(error_for_code("unknown_response", "x"), ts.UnknownResponseError)
    transport = error_for_code("transport", "reset")
    assert isinstance(transport, ts.TransportError)
    assert transport.maybe_sent is True and transport.retryable is True
    with pytest.raises(KeyError):
        error_for_code("no_such_code")


def test_errors_survive_pickling():
    for exc in (
        error_for_code("phone_stop_listed"),
        ts.TransportError(text="refused", maybe_sent=False),
        ts.InputError(text="bad", row=3, field="phone"),
    ):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc)
        assert (back.code, back.text) == (exc.code, exc.text)
    assert pickle.loads(pickle.dumps(ts.TransportError(maybe_sent=False))).maybe_sent is False


def test_input_error_names_row_and_field():
    exc = ts.InputError(text="not a phone number", row=7, field="phone")
    assert "row 7" in str(exc) and "'phone'" in str(exc)
    assert isinstance(exc, ValueError)
    assert (exc.row, exc.field) == (7, "phone")
