"""SPEC §2.7 in one place: the procedures, the kinds of agents and what each kind may file, and the
rule of registration numbers."""

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from app.text.messages import register_labels


class Procedure(StrEnum):
    """An OSS procedure (the same codes in application templates, §2.8)."""

    NEW_REGISTRATION = "new_registration"  # 新規登録
    CHANGE_REGISTRATION = "change_registration"  # 変更登録
    TRANSFER_REGISTRATION = "transfer_registration"  # 移転登録
    DESCRIPTION_CHANGE = "description_change"  # 記載変更
    CONTINUOUS_INSPECTION = "continuous_inspection"  # 継続検査
    KEI_NEW_INSPECTION = "kei_new_inspection"  # 軽自動車の新車新規検査


class AgentKind(StrEnum):
    """What an agent is: a licensed person or corporation, or an industry body."""

    GYOSEISHOSHI = "gyoseishoshi"  # 行政書士
    GYOSEISHOSHI_CORPORATION = "gyoseishoshi_corporation"  # 行政書士法人
    JIHANREN = "jihanren"  # 自販連
    NISSEIREN = "nisseiren"  # 日整連
    ZENKEIJIKYO = "zenkeijikyo"  # 全軽自協


# What each kind may file (§2.7); anything else is refused with 422 procedure_not_allowed.
KIND_PROCEDURES: Final[dict[AgentKind, tuple[Procedure, ...]]] = {
    AgentKind.GYOSEISHOSHI: tuple(Procedure),
    AgentKind.GYOSEISHOSHI_CORPORATION: tuple(Procedure),
    AgentKind.JIHANREN: (Procedure.CONTINUOUS_INSPECTION, Procedure.KEI_NEW_INSPECTION),
    AgentKind.NISSEIREN: (Procedure.CONTINUOUS_INSPECTION,),
    AgentKind.ZENKEIJIKYO: (Procedure.CONTINUOUS_INSPECTION, Procedure.KEI_NEW_INSPECTION),
}

# The registration number of the 日本行政書士会連合会: its exact format is unconfirmed (§2.7), so
# 1 to 10 half-width digits are accepted; this is the one place of that rule.
REGISTRATION_NUMBER_MAX_LENGTH: Final = 10
# Kinds whose registration number is required (other kinds: optional).
REGISTRATION_NUMBER_REQUIRED: Final = frozenset({AgentKind.GYOSEISHOSHI, AgentKind.GYOSEISHOSHI_CORPORATION})

register_labels(
    {
        "new_registration": ("新規登録", "new registration"),
        "change_registration": ("変更登録", "change of registration"),
        "transfer_registration": ("移転登録", "transfer of registration"),
        "description_change": ("記載変更", "change of description"),
        "continuous_inspection": ("継続検査", "continuous inspection"),
        "kei_new_inspection": ("軽自動車の新車新規検査", "new kei car inspection"),
        "gyoseishoshi": ("行政書士", "administrative scrivener"),
        "gyoseishoshi_corporation": ("行政書士法人", "administrative scrivener corporation"),
        "jihanren": ("自販連", "JADA"),
        "nisseiren": ("日整連", "JASPA"),
        "zenkeijikyo": ("全軽自協", "zenkeijikyo"),
    }
)


def in_order(procedures: Iterable[str]) -> list[Procedure]:
    """The procedures without repeats, in the order of §2.7's table."""
    given = {Procedure(procedure) for procedure in procedures}
    return [procedure for procedure in Procedure if procedure in given]


def stored(procedures: Iterable[str]) -> str:
    """How a set of procedures is stored: codes in table order, separated by single spaces."""
    return " ".join(procedure.value for procedure in in_order(procedures))


def from_stored(value: str) -> list[Procedure]:
    """The procedures of a stored value (see `stored`)."""
    return [Procedure(code) for code in value.split()]


def not_allowed(procedures: Iterable[str], allowed: Iterable[str]) -> list[Procedure]:
    """The procedures that are not among those allowed, in table order."""
    permitted = set(allowed)
    return [procedure for procedure in in_order(procedures) if procedure not in permitted]
