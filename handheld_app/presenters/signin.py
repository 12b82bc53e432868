"""Sign-in: an operator badge scan (``OP-<id>``) or the operator id typed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan, ScanKind
from handheld_app.presenters.feedback import Feedback

_OPERATOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


@dataclass(frozen=True)
class SignInResult:
    """The feedback and, when accepted, the operator id."""

    feedback: Feedback
    operator: str | None = None


class SignInPresenter:
    """Checks a badge scan or a typed operator id."""

    def __init__(self, prefixes: Prefixes = DEFAULT_PREFIXES) -> None:
        self.prefixes = prefixes
        self.operator: str | None = None

    def scanned(self, scan: Scan) -> SignInResult:
        """A barcode scanned on the sign-in screen: only a badge signs in."""
        if scan.kind is ScanKind.BADGE:
            return self._accept(str(scan.data["operator"]))
        if scan.kind is ScanKind.UNKNOWN:
            why = scan.data.get("error", "not readable")
            return SignInResult(Feedback.refuse("unknown_barcode", f"Unknown barcode: {why}"))
        return SignInResult(
            Feedback.refuse(
                "not_a_badge",
                f"That is a {scan.kind.value} barcode, not a badge: scan your "
                f"{self.prefixes.badge} badge",
            )
        )

    def typed(self, text: str) -> SignInResult:
        """An operator id typed on the keypad (the badge prefix is optional)."""
        value = (text or "").strip()
        if value.upper().startswith(self.prefixes.badge.upper()):
            value = value[len(self.prefixes.badge) :]
        if not _OPERATOR_ID.match(value):
            return SignInResult(
                Feedback.refuse(
                    "bad_operator_id",
                    "Operator id: letters, digits, '.', '_' or '-', up to 32 characters",
                )
            )
        return self._accept(value)

    def _accept(self, operator: str) -> SignInResult:
        self.operator = operator
        return SignInResult(Feedback.good(f"Signed in as {operator}", "signed_in"), operator)

    def sign_out(self) -> None:
        """Forget the operator."""
        self.operator = None
