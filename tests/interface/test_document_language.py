"""One language per string of the OpenAPI document (SPEC §5: frontend teams build the screens from
it; README, "The OpenAPI document"): an operation's summary and every parameter's and field's
title are Japanese (the screen's name and labels), every description is English. A Japanese value
quoted in backticks (`ﾃｽﾄ` finds `テスト`) is a value, not prose, and may stand in English text."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.cli import openapi_document

DOCUMENT: dict[str, Any] = openapi_document()

# Kana, kanji, CJK punctuation and full-width forms: Japanese text.
_JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# An English word: lower-case letters that start a word (`API`, `ID`, `CSV`, `Webhook` stand in
# Japanese labels as names; `the`, `digits`, `https` are English).
_ENGLISH = re.compile(r"(?<![A-Za-z])[a-z]{2,}")
_QUOTED = re.compile(r"`[^`]*`")
# What a document keeps as values, not text written for people.
_VALUES = frozenset({"example", "examples", "default", "enum", "const"})


def _prose(text: str) -> str:
    return _QUOTED.sub("", text)


def is_japanese(text: str) -> bool:
    """Japanese, and no English word outside backticks."""
    prose = _prose(text)
    return _JAPANESE.search(prose) is not None and _ENGLISH.search(prose) is None


def is_english(text: str) -> bool:
    """No Japanese outside backticks."""
    return _JAPANESE.search(_prose(text)) is None


def generated_title(name: str) -> str:
    """The title FastAPI and pydantic make of a name when none is given: `org_id` -> `Org Id`."""
    return name.replace("_", " ").title()


def _descriptions(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, text) of every description in the document, values left out."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _VALUES:
                continue
            if key == "description" and isinstance(value, str):
                yield where, value
            elif key == "properties" and isinstance(value, dict):
                for name, field in value.items():  # field names, not keywords (`title`, `description`)
                    yield from _descriptions(field, f"{where}.{name}")
            else:
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _descriptions(item, f"{where}[{index}]")


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _fields(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) of every field of every schema, nested ones included."""

    def walk(schema: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        if isinstance(schema, dict):
            for name, field in schema.get("properties", {}).items():
                yield f"{where}.{name}", name, field
                yield from walk(field, f"{where}.{name}")
            for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
                inner = schema.get(key)
                for part in inner if isinstance(inner, list) else [inner]:
                    yield from walk(part, where)

    for name, schema in document["components"]["schemas"].items():
        yield from walk(schema, name)
    for where, operation in _operations(document):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            yield from walk(content.get("schema"), f"{where} body")


def wrong_strings(document: dict[str, Any]) -> list[str]:
    """Every string of the document that breaks the rule, and why."""
    wrong = []
    for where, operation in _operations(document):
        summary = operation.get("summary", "")
        if not is_japanese(summary):
            wrong.append(f"{where}: summary not Japanese: {summary!r}")
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in ("path", "query"):
                continue
            name, title = parameter["name"], parameter["schema"].get("title", "")
            at = f"{where} {parameter['in']} {name}"
            if not title or title == generated_title(name) or not is_japanese(title):
                wrong.append(f"{at}: title not a Japanese label: {title!r}")
            if not parameter.get("description"):
                wrong.append(f"{at}: no description")
    for where, name, field in _fields(document):
        title = field.get("title")
        if title is None or title == generated_title(name) or not is_japanese(title):
            wrong.append(f"{where}: title not a Japanese label: {title!r}")
    for where, text in _descriptions(document, ""):
        if not is_english(text):
            wrong.append(f"{where}: description not English: {text!r}")
    return wrong


def test_every_string_of_the_document_is_in_its_one_language() -> None:
    wrong = wrong_strings(DOCUMENT)
    assert wrong == [], f"{len(wrong)} strings:\n" + "\n".join(wrong)


def test_the_screens_get_their_names_and_labels() -> None:
    """What the rule is for: the screens' own words, where they look for them."""
    search = DOCUMENT["paths"]["/api/v1/organizations/{org_id}/locations"]["get"]
    assert search["summary"] == "依頼人拠点検索"
    titles = {parameter["name"]: parameter["schema"]["title"] for parameter in search["parameters"]}
    assert titles["org_id"] == "依頼人組織ID"
    assert titles["code"] == "依頼人拠点コード"
    assert titles["limit"] == "表示件数"
    create = DOCUMENT["components"]["schemas"]["LocationCreate"]["properties"]
    assert create["short_name"]["title"] == "依頼人拠点名（略称）"


@pytest.mark.parametrize(
    ("text", "japanese", "english"),
    [
        ("依頼人拠点検索", True, False),
        ("APIキーの発行", True, False),
        ("依頼人組織ID", True, False),
        ("Webhookエンドポイントの登録", True, False),
        ("Items per page (1 to 200)", False, True),
        ("Partial match: `ﾃｽﾄ` finds `テスト`", False, True),
        ("依頼人組織ID: 9 decimal digits", False, False),
        ("依頼人拠点コード (case does not matter)", False, False),
        ("List locations", False, True),
        ("Org Id", False, True),
    ],
)
def test_the_rule_tells_the_languages_apart(text: str, japanese: bool, english: bool) -> None:
    assert (is_japanese(text), is_english(text)) == (japanese, english)


def test_the_rule_finds_each_kind_of_wrong_string() -> None:
    document = {
        "paths": {
            "/things/{org_id}": {
                "get": {
                    "summary": "List things",
                    "description": "一覧. Lists the things.",
                    "parameters": [
                        {"name": "org_id", "in": "path", "schema": {"title": "Org Id"}},
                        {"name": "limit", "in": "query", "schema": {"title": "表示件数"}, "description": "x"},
                        {"name": "If-Match", "in": "header", "schema": {}},
                    ],
                    "responses": {"200": {"description": "OK", "content": {}}},
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "title": "Thing",
                    "properties": {
                        "title": {"title": "Title", "description": "見出し"},
                        "name": {"title": "名前", "examples": ["`x` の説明 in English"]},
                    },
                }
            }
        },
    }
    assert wrong_strings(document) == [
        "GET /things/{org_id}: summary not Japanese: 'List things'",
        "GET /things/{org_id} path org_id: title not a Japanese label: 'Org Id'",
        "GET /things/{org_id} path org_id: no description",
        "Thing.title: title not a Japanese label: 'Title'",
        "/paths//things/{org_id}/get: description not English: '一覧. Lists the things.'",
        "/components/schemas/Thing.title: description not English: '見出し'",
    ]
