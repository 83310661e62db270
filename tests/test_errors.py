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
    assert isinstance(transport, ts.ReadError)  # the cautious kind: it may have arrived
    assert transport.retryable is True
    with pytest.raises(KeyError):
        error_for_code("no_such_code")


def test_errors_survive_pickling():
    for exc in (
        error_for_code("phone_stop_listed"),
        ts.ConnectError(text="refused"),
        ts.ReadError(text="reset", retryable=False),
        ts.InputError(text="bad", row=3, field="phone"),
        ts.JournalError("newer schema"),
    ):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc)
        assert (back.code, back.text, back.retryable) == (exc.code, exc.text, exc.retryable)


def test_input_error_names_row_and_field():
    exc = ts.InputError(text="not a phone number", row=7, field="phone")
    assert "row 7" in str(exc) and "'phone'" in str(exc)
    assert isinstance(exc, ValueError)
    assert (exc.row, exc.field) == (7, "phone")


def test_never_sent_and_may_have_arrived_are_classes():
    """Issue 12: a caller's except decides, not a maybe_sent flag tested in three places."""
    never, maybe = ts.ConnectError(text="refused"), ts.ReadError(text="reset")
    for exc in (never, maybe):
        assert isinstance(exc, ts.TransportError) and isinstance(exc, ts.TargetSMSError)
        assert exc.code == "transport" and exc.retryable
    assert not isinstance(never, ts.ReadError) and not isinstance(maybe, ts.ConnectError)


def test_maybe_sent_is_read_only_and_deprecated():
    with pytest.warns(DeprecationWarning):
        assert ts.ConnectError().maybe_sent is False
    with pytest.warns(DeprecationWarning):
        assert ts.ReadError().maybe_sent is True
    with pytest.raises(TypeError):
        ts.TransportError(maybe_sent=False)  # type: ignore[call-arg]


def test_every_exception_of_the_package_lives_in_errors_and_is_a_targetsms_error():
    import importlib
    import inspect
    import pkgutil

    import targetsms_analytics
    from targetsms_analytics import errors

    for info in pkgutil.walk_packages(targetsms_analytics.__path__, "targetsms_analytics."):
        if ".emulator" in info.name or info.name.endswith(("widgets", "plots", "__main__")):
            continue  # the emulator is a test double; widgets/plots need a display stack
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                if obj.__module__ == info.name != "targetsms_analytics.errors":
                    pytest.fail(f"{info.name}.{name} is an exception outside errors.py")
    for name in errors.__all__:
        obj = getattr(errors, name)
        if inspect.isclass(obj):
            assert issubclass(obj, errors.TargetSMSError), name


def test_the_diagram_names_every_exception_class():
    import inspect

    from targetsms_analytics import errors

    diagram = errors.__doc__ or ""
    for name in errors.__all__:
        if inspect.isclass(getattr(errors, name)):
            assert name in diagram, name
