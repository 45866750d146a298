"""Identifier formats: the unified social credit code (GB 32100-2015) and the lot's unified transaction code."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tests import factories
from trading import services
from trading.codes import (
    CREDIT_CHARSET,
    CREDIT_WEIGHTS,
    TX_CHARSET,
    credit_code_check_char,
    is_valid_credit_code,
    is_valid_transaction_code,
    transaction_code,
    validate_credit_code,
)
from trading.models import Organisation
from trading.rules import LOCAL

# Published codes of well-known companies (小米科技, 腾讯科技（深圳）, 华为技术) and the usual textbook example.
PUBLISHED_CODES = ["91110108551385082Q", "91440300708461136T", "9144030071526726XG", "91350100M000100Y43"]
FORBIDDEN_LETTERS = "IOSVZ"


def replace(code: str, position: int, char: str) -> str:
    return code[:position] + char + code[position + 1 :]


def mod37_36_ok(code: str) -> bool:
    """ISO/IEC 7064 MOD 37,36 written out independently: a valid string leaves the running sum at 1."""
    product = 36
    for char in code[:-1]:
        product = ((product + TX_CHARSET.index(char)) % 36 or 36) * 2 % 37
    return (product + TX_CHARSET.index(code[-1])) % 36 == 1


# --- Unified social credit code ---------------------------------------------------------------------------


def test_charset_and_weights_follow_gb_32100():
    assert len(CREDIT_CHARSET) == 31
    assert not set(FORBIDDEN_LETTERS) & set(CREDIT_CHARSET)
    assert list(CREDIT_WEIGHTS) == [pow(3, i, 31) for i in range(17)]


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_codes_validate(code):
    assert is_valid_credit_code(code) is True
    assert credit_code_check_char(code[:17]) == code[17]
    validate_credit_code(code)


def test_a_generated_code_validates_and_every_other_check_char_fails():
    code = factories.credit_code()
    assert len(code) == 18
    assert is_valid_credit_code(code) is True

    others = [replace(code, 17, char) for char in CREDIT_CHARSET if char != code[17]]
    assert len(others) == 30
    assert [other for other in others if is_valid_credit_code(other)] == []


def test_every_single_substitution_anywhere_fails():
    code = factories.credit_code()
    valid = [
        replace(code, position, char)
        for position in range(18)
        for char in CREDIT_CHARSET
        if char != code[position] and is_valid_credit_code(replace(code, position, char))
    ]
    assert valid == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda code: code[:17], id="17-chars"),
        pytest.param(lambda code: code + "0", id="19-chars"),
        pytest.param(lambda code: "", id="empty"),
        pytest.param(lambda code: code.lower(), id="lower-case"),
        pytest.param(lambda code: replace(code, 17, " "), id="space"),
    ],
)
def test_wrong_length_or_charset_fails(mutate):
    assert is_valid_credit_code(mutate(PUBLISHED_CODES[0])) is False


@pytest.mark.parametrize("letter", FORBIDDEN_LETTERS)
@pytest.mark.parametrize("position", [8, 17])
def test_letters_outside_the_charset_fail(letter, position):
    assert is_valid_credit_code(replace(PUBLISHED_CODES[3], position, letter)) is False


def test_validate_credit_code_raises_with_its_code():
    with pytest.raises(ValidationError) as invalid:
        validate_credit_code(replace(PUBLISHED_CODES[0], 17, "R"))
    assert invalid.value.code == "invalid_credit_code"


@pytest.mark.django_db
def test_organisation_full_clean_refuses_an_invalid_credit_code():
    good = Organisation(name="某县城投公司", credit_code=PUBLISHED_CODES[0], kind="tenderee", region_code="450102")
    good.full_clean()

    bad = Organisation(name="某县城投公司", credit_code=replace(PUBLISHED_CODES[0], 17, "R"), kind="tenderee")
    with pytest.raises(ValidationError) as invalid:
        bad.full_clean()
    assert list(invalid.value.error_dict) == ["credit_code"]
    assert [error.code for error in invalid.value.error_dict["credit_code"]] == ["invalid_credit_code"]


# --- Unified transaction code ---------------------------------------------------------------------------------


def test_transaction_code_layout():
    credit = PUBLISHED_CODES[0]
    code = transaction_code(credit, date(2026, 11, 2), 7)

    assert len(code) == 30
    assert code[:29] == f"{credit}20261102007"
    assert (code[:18], code[18:26], code[26:29]) == (credit, "20261102", "007")
    assert code[29] in TX_CHARSET
    assert mod37_36_ok(code) is True
    assert is_valid_transaction_code(code) is True


@pytest.mark.parametrize("serial", [1, 42, 999])
def test_serials_1_to_999_are_accepted(serial):
    code = transaction_code(PUBLISHED_CODES[1], date(2026, 12, 31), serial)
    assert code[26:29] == f"{serial:03d}"
    assert is_valid_transaction_code(code) is True


@pytest.mark.parametrize("serial", [0, -1, 1000])
def test_serial_out_of_range_raises(serial):
    with pytest.raises(ValueError, match=r"^serial must be 1\.\.999$"):
        transaction_code(PUBLISHED_CODES[0], date(2026, 11, 2), serial)


def test_a_changed_digit_fails():
    code = transaction_code(PUBLISHED_CODES[0], date(2026, 11, 2), 7)
    assert is_valid_transaction_code(replace(code, 25, "3")) is False  # 20261103
    assert is_valid_transaction_code(replace(code, 28, "8")) is False  # serial 008
    wrong_check = TX_CHARSET[(TX_CHARSET.index(code[29]) + 1) % 36]
    assert is_valid_transaction_code(replace(code, 29, wrong_check)) is False


def test_every_single_substitution_of_a_transaction_code_fails():
    code = transaction_code(PUBLISHED_CODES[0], date(2026, 11, 2), 7)
    valid = [
        replace(code, position, char)
        for position in range(30)
        for char in TX_CHARSET
        if char != code[position] and is_valid_transaction_code(replace(code, position, char))
    ]
    assert valid == []


def test_transaction_code_wrong_length_or_charset_fails():
    code = transaction_code(PUBLISHED_CODES[0], date(2026, 11, 2), 7)
    assert is_valid_transaction_code(code[:29]) is False
    assert is_valid_transaction_code(code + "0") is False
    assert is_valid_transaction_code(code.lower()) is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("created_at", "day"),
    [
        (datetime(2026, 11, 30, 23, 59, 59, tzinfo=LOCAL), "20261130"),
        # 1 December 00:00 in Shanghai is still 30 November in UTC: the code carries the local date.
        (datetime(2026, 12, 1, 0, 0, tzinfo=LOCAL), "20261201"),
    ],
)
def test_lot_transaction_code_uses_the_local_date_and_counts_serials(parties, created_at, day):
    credit = parties.tenderee.organisation.credit_code
    with time_machine.travel(created_at, tick=False):
        project = services.project_create(
            actor=parties.tenderee, code="GX-2026-009", name="某县供水工程", rule_set=factories.rule_set(), region_code="450102"
        )
        first, second = [
            services.lot_create(
                actor=parties.tenderee, project=project, name=name, estimated_price=Decimal("1000000"), bond_amount=Decimal("0")
            )
            for name in ("一标段", "二标段")
        ]

    assert first.transaction_code[:29] == f"{credit}{day}001"
    assert second.transaction_code[:29] == f"{credit}{day}002"
    assert is_valid_transaction_code(first.transaction_code) is True
    assert is_valid_transaction_code(second.transaction_code) is True
