"""The OpenAPI document of the CSV routes tells what they answer (issue 25, item 11): each upload's
example is a file of its own sheet that the route accepts, and CSV problems have their rows."""

from typing import Any

import httpx
from fastapi import FastAPI

from app.locations.sheet import LOCATIONS
from app.users.sheet import USERS
from tests.fixtures.world import World, add_location


def _operation(app: FastAPI, path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = app.openapi()["paths"][f"/api/v1/organizations/{{org_id}}{path}"][method]
    return operation


async def test_each_upload_example_is_a_file_its_route_accepts(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    await add_location(client, world.a, "TKY001", "東京本店")
    for kind in ("locations", "users"):
        example = _operation(app, f"/imports/{kind}", "post")["requestBody"]["content"]["text/csv"]["example"]
        response = await client.post(
            f"{world.a.path}/imports/{kind}",
            content=example.encode(),
            params={"dry_run": "true"},
            headers={**world.a.admin.headers, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, (kind, response.text)
        assert response.json()["created"] + response.json()["updated"] + response.json()["unchanged"] == 1


def test_csv_problems_are_documented_with_their_rows(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert {"row", "column", "key"} <= set(schemas["CsvRowProblem"]["properties"])
    for path, method in (
        ("/imports/locations", "post"),
        ("/imports/users", "post"),
        ("/exports/locations", "get"),
        ("/exports/users", "get"),
    ):
        responses = _operation(app, path, method)["responses"]
        statuses = ("413", "415", "422") if method == "post" else ("422",)
        for status in statuses:
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], (path, status)
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/CsvProblem"
            }
        codes = {
            example["value"]["code"]
            for example in responses["422"]["content"]["application/problem+json"]["examples"].values()
        }
        expected = {"csv_invalid", "csv_too_many_columns"} if method == "post" else {"download_not_shift_jis"}
        assert expected <= codes, (path, codes)


def test_each_routes_documented_errors_are_of_its_own_sheet(app: FastAPI) -> None:
    """A row error names a column of the route's sheet by its own heading (the users' routes once
    showed a location's column, the locations' download a user's)."""
    for kind, sheet in (("locations", LOCATIONS), ("users", USERS)):
        for path, method, code in (
            (f"/imports/{kind}", "post", "csv_invalid"),
            (f"/exports/{kind}", "get", "download_not_shift_jis"),
        ):
            examples = _operation(app, path, method)["responses"]["422"]["content"][
                "application/problem+json"
            ]
            [problem] = [
                example["value"]
                for example in examples["examples"].values()
                if example["value"]["code"] == code
            ]
            for error in problem["errors"]:
                column = sheet.column(error["field"])
                assert column is not None, (path, error)
                assert column.label == error["column"], (path, error)
