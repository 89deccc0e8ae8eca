"""Assertion helpers shared by the interop test modules."""

import pytest


def expect_duo_error(call, status, code):
    """Runs `call`, which must raise duo_client's RuntimeError with this HTTP status and Duo
    code; returns the exception."""
    with pytest.raises(RuntimeError) as info:
        call()
    err = info.value
    assert getattr(err, "status", None) == status, f"{err!r}: status {getattr(err, 'status', None)}"
    data = getattr(err, "data", None)
    assert isinstance(data, dict), f"{err!r}: body is not a JSON FAIL envelope: {data!r}"
    assert data.get("stat") == "FAIL", data
    assert data.get("code") == code, data
    assert isinstance(data.get("message"), str) and data["message"], data
    return err
