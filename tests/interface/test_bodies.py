"""SPEC §5.3: what a body may be. 415 for another media type or a body that is not UTF-8, blank
means null, optional bodies may be left out, and every message of an answer in one language."""

import re
from typing import Any

import httpx
import pytest

from tests.fixtures.world import World, post_user

JSON_ENDPOINTS = [
    ("POST", "{org}/locations"),
    ("PATCH", "{org}/locations/L1"),
    ("POST", "{org}/users"),
    ("POST", "{org}/api-keys"),
    ("PUT", "{org}/api-password"),
    ("PUT", "/api/v1/me/password"),
]


def _path(template: str, world: World) -> str:
    return template.format(org=world.a.path)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"code=X1&name=%E6%8B%A0%E7%82%B9"),
        ("text/plain", b'{"code": "X1"}'),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="code"\r\n\r\nX1\r\n--b--',
        ),
        ("application/xml", b"<location/>"),
    ],
    ids=["form", "text", "multipart", "xml"],
)
async def test_another_media_type_gets_415_saying_to_send_json(
    world: World, client: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    for method, template in JSON_ENDPOINTS:
        response = await client.request(
            method,
            _path(template, world),
            content=body,
            headers={**world.a.admin.headers, "Content-Type": content_type},
        )
        assert response.status_code == 415, (method, template, response.text)
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["code"] == "json_required"
        assert "application/json" in problem["detail"]
        assert problem["title"] == "未対応のメディアタイプ"
    english = await client.post(
        f"{world.a.path}/locations",
        content=body,
        headers={**world.a.admin.headers, "Content-Type": content_type, "Accept-Language": "en"},
    )
    assert english.json()["detail"].startswith(
        "Send the request body as JSON (Content-Type: application/json)"
    )


async def test_json_with_a_charset_or_a_suffix_is_json(world: World, client: httpx.AsyncClient) -> None:
    for content_type, code in (
        ("application/json; charset=utf-8", "C1"),
        ("application/merge-patch+json", "C2"),
    ):
        response = await client.post(
            f"{world.a.path}/locations",
            content=f'{{"code": "{code}", "name": "拠点", "short_name": "拠点"}}'.encode(),
            headers={**world.a.admin.headers, "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


async def test_a_body_that_is_not_utf8_says_so(world: World, client: httpx.AsyncClient) -> None:
    body = '{"code": "X1", "name": "拠点", "short_name": "拠点"}'.encode("shift_jis")
    response = await client.post(
        f"{world.a.path}/locations",
        content=body,
        headers={**world.a.admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "body_not_utf8"
    assert "UTF-8" in response.json()["detail"]
    assert response.json()["detail"] == (
        "リクエスト本文がUTF-8ではありません（先頭から24バイトの位置）。UTF-8で送ってください。"
    )


async def test_the_token_endpoint_says_it_wants_a_form(world: World, client: httpx.AsyncClient) -> None:
    sent = {"grant_type": "password", "username": "a.admin", "password": "x"}
    response = await client.post("/api/v1/auth/token", json=sent)
    assert response.status_code == 415
    problem = response.json()
    assert problem["code"] == "form_required"
    assert "application/x-www-form-urlencoded" in problem["detail"]
    assert problem["error"] == "invalid_request"
    assert "error_description" not in problem  # ASCII only: in English answers (below)
    english = await client.post("/api/v1/auth/token", json=sent, headers={"Accept-Language": "en"})
    assert "form-encoded" in english.json()["error_description"]
    revoke = await client.post("/api/v1/auth/revoke", json={"token": "x"})
    assert (revoke.status_code, revoke.json()["code"]) == (415, "form_required")


async def test_blank_means_null(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    created = await client.post(
        f"{world.a.path}/locations",
        json={"code": "B1", "name": "空欄", "short_name": "空欄", "delegate_number": ""},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["delegate_number"] is None
    numbered = await client.patch(
        f"{world.a.path}/locations/L1",
        json={"delegate_number": "123"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert numbered.json()["delegate_number"] == "123"
    cleared = await client.patch(
        f"{world.a.path}/locations/L1",
        json={"delegate_number": "\u3000"},  # white space of any width is blank too
        headers={**headers, "If-Match": numbered.headers["etag"]},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["delegate_number"] is None
    user = await post_user(
        client, world.a, headers, "blank.location", "全拠点 担当", "location_admin", location_code=""
    )
    assert user.status_code == 201, user.text
    assert (user.json()["location_code"], user.json()["location_name"]) == (None, None)
    moved = await client.patch(
        f"{world.a.path}/users/submitter.l1",
        json={"location_code": ""},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["location_code"] is None
    labelled = await client.post(f"{world.a.path}/api-keys", json={"label": ""}, headers=headers)
    assert (labelled.status_code, labelled.json()["label"]) == (201, None)
    # A required name is not optional: blank stays an error.
    refused = await client.patch(f"{world.a.path}/locations/L2", json={"name": ""}, headers=headers)
    assert refused.status_code == 422


async def test_optional_bodies_may_be_left_out(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    issued = await client.post(f"{world.a.path}/api-keys", headers=headers)
    assert issued.status_code == 201, issued.text
    assert len(issued.json()["key"]) == 32
    assert issued.json()["label"] is None
    generated = await client.put(f"{world.a.path}/api-password", headers=headers)
    assert generated.status_code == 200, generated.text
    assert len(generated.json()["api_password"]) >= 16
    unchanged = await client.patch(f"{world.a.path}/locations/L1", headers=headers)
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["version"] == 1
    # A body with required fields may not.
    missing = await client.post(f"{world.a.path}/locations", headers=headers)
    assert missing.status_code == 422
    assert {error["field"] for error in missing.json()["errors"]} == {"body"}


JAPANESE_PROBES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "{org}/users",
        {"login_id": "x.y", "name": "名", "password": "pass phrase 2026", "role": "manager"},
    ),
    ("POST", "{org}/users", {"login_id": "x", "name": 1, "password": [], "role": None, "extra": True}),
    ("POST", "{org}/locations", [1, 2]),
    ("POST", "{org}/locations", {"code": "Ｘ", "name": "ｶﾞ", "short_name": "あ" * 11, "delegate_number": 5}),
    ("PATCH", "{org}/locations/L1", {"code": "L9"}),
    ("GET", "{org}/users?role=manager&limit=0&offset=-1&sort=password_hash", {}),
    ("GET", "{org}/audit-events?since=yesterday&until=2026-01-01T00:00:00", {}),
    ("POST", "{org}/api-keys", {"label": "a" * 51}),
]
# English words that would betray an untranslated message (pydantic's, or a list joined by "or").
ENGLISH = re.compile(r"\b(Input|should|valid|or|must|Must|Field|required|value|be)\b")


async def test_every_message_of_a_japanese_answer_is_japanese(
    world: World, client: httpx.AsyncClient
) -> None:
    mixed = {}
    for method, template, body in JAPANESE_PROBES:
        path = _path(template, world)
        response = await client.request(
            method, path, json=body if method != "GET" else None, headers=world.a.admin.headers
        )
        assert response.status_code == 422, (path, response.text)
        problem = response.json()
        messages = [
            problem["title"],
            problem["detail"],
            *(error["message"] for error in problem.get("errors", [])),
        ]
        found = [message for message in messages if ENGLISH.search(message)]
        if found:
            mixed[f"{method} {template} {body}"] = found
    assert mixed == {}


async def test_role_errors_name_the_roles_in_the_answers_language(
    world: World, client: httpx.AsyncClient
) -> None:
    body = {"login_id": "x.y", "name": "名", "password": "pass phrase 2026", "role": "manager"}
    japanese = await client.post(f"{world.a.path}/users", json=body, headers=world.a.admin.headers)
    [error] = japanese.json()["errors"]
    assert error["code"] == "enum"
    assert error["allowed"] == ["admin", "location_admin", "staff_submitter", "staff_preparer"]
    assert error["message"] == (
        "次のいずれかを指定してください: admin：管理者、location_admin：拠点管理者、"
        "staff_submitter：担当者（送信可）、staff_preparer：担当者（送信不可）"
    )
    english = await client.post(
        f"{world.a.path}/users", json=body, headers={**world.a.admin.headers, "Accept-Language": "en"}
    )
    assert english.json()["errors"][0]["message"] == (
        "Must be one of: admin (administrator), location_admin (location administrator), "
        "staff_submitter (staff (may submit)), staff_preparer (staff (may not submit))"
    )
    listed = await client.get(f"{world.a.path}/users?role=manager", headers=world.a.admin.headers)
    assert "管理者" in listed.json()["errors"][0]["message"]


MULTIPART_UPLOADS = ["{org}/imports/locations", "{org}/imports/users", "{org}/certificates"]


@pytest.mark.parametrize("template", MULTIPART_UPLOADS, ids=str)
@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\n-17621--B--\r\n",  # schemathesis': a part with no headers (a line with no colon)
        b"--B\r\nX\r\n\r\nx\r\n--B--\r\n",
        b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--",  # a part without a name
    ],
    ids=["no-headers", "header-without-colon", "part-without-a-name"],
)
async def test_a_multipart_body_that_cannot_be_parsed_is_a_400_problem(
    world: World, client: httpx.AsyncClient, template: str, body: bytes
) -> None:
    response = await client.post(
        _path(template, world),
        content=body,
        headers={**world.a.admin.headers, "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_multipart", response.text


@pytest.mark.parametrize("template", MULTIPART_UPLOADS, ids=str)
async def test_a_multipart_body_without_parts_says_what_is_missing(
    world: World, client: httpx.AsyncClient, template: str
) -> None:
    response = await client.post(
        _path(template, world),
        content=b"--B\r\n-17621--B--",
        headers={**world.a.admin.headers, "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {error["field"] for error in response.json()["errors"]} >= {"file"}
