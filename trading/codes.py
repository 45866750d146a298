"""Identifier formats: the unified social credit code and the lot's unified transaction code.

See docs/formats.md for both layouts.
"""

from datetime import date

from django.core.exceptions import ValidationError

# GB 32100-2015: 31 characters (no I, O, S, V, Z), weights 3^i mod 31.
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CHARSET.index(ch) * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(ch not in CREDIT_CHARSET for ch in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def validate_credit_code(code: str) -> None:
    if not is_valid_credit_code(code):
        raise ValidationError(
            "统一社会信用代码无效（应为18位，校验位按 GB 32100-2015 计算） / invalid unified social credit code",
            code="invalid_credit_code",
        )


# Transaction code: credit code (18) + YYYYMMDD (8) + serial (3) + check (1) = 30 characters.
# The check character is ISO/IEC 7064 MOD 37,36 over digits and upper-case letters.
TX_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _mod37_36(payload: str) -> str:
    product = 36
    for ch in payload:
        total = (product + TX_CHARSET.index(ch)) % 36 or 36
        product = (total * 2) % 37
    return TX_CHARSET[(37 - product) % 36]


def transaction_code(tenderee_credit_code: str, day: date, serial: int) -> str:
    if not 1 <= serial <= 999:
        raise ValueError("serial must be 1..999")
    payload = f"{tenderee_credit_code}{day:%Y%m%d}{serial:03d}"
    return payload + _mod37_36(payload)


def is_valid_transaction_code(code: str) -> bool:
    if len(code) != 30 or any(ch not in TX_CHARSET for ch in code):
        return False
    return is_valid_credit_code(code[:18]) and _mod37_36(code[:29]) == code[29]
