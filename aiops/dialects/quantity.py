"""Kubernetes quantities (`200m`, `1`, `256Mi`, `1Gi`, `64M`, `1e3`) as exact numbers, the way
the launchpad's `Quantity` reads them: `M` is decimal (10^6), `Mi` binary (2^20)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<decimal>[mkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6}
_DECIMAL |= {"G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15}
_DECIMAL |= {"E": Decimal(10) ** 18}
MEBI = 2**20
GIBI = 2**30


def parse(value: str) -> Decimal | None:
    """The value of a quantity string in base units (cores, bytes), else None."""
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        return None
    try:
        number = Decimal(match.group("number"))
        if match.group("binary"):
            return number * _BINARY[match.group("binary")]
        if match.group("decimal"):
            return number * _DECIMAL[match.group("decimal")]
        if match.group("exponent"):
            exponent = int(match.group("exponent"))
            return number * Decimal(10) ** exponent if abs(exponent) <= 30 else None
    except (InvalidOperation, ValueError):
        return None
    return number


def millicores(cores: float) -> str:
    """Cores as an unambiguous quantity: always in millicores (`1000m`, never `1`, which the
    launchpad's hydration reads as one millicore)."""
    return f"{round(cores * 1000)}m"


def mebibytes(mib: float) -> str:
    """A size in MiB as a binary quantity: `512Mi`, `2Gi` (whole GiB), `1536Mi`."""
    whole = round(mib)
    if whole % 1024 == 0:
        return f"{whole // 1024}Gi"
    return f"{whole}Mi"
