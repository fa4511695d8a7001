"""The access matrix (issue 5, item 1): every operation of the OpenAPI document, called as every
kind of principal, against resources of its own organization, its own location, another location
and another organization, with ids in bodies as well as in paths.

The expected answers come from ONE table, `MATRIX`, which mirrors SPEC §4. An operation of the
app without a row there fails the test, so a new endpoint cannot ship unguarded.

Reading a row: one string per case, one status per column, in the order of `COLUMNS`:

    OP   operator                      LNK  linked system of A (HTTP Basic, API key + API password)
    ADM  admin of A                    OTH  admin of organization B
    LA1  location_admin of A at L1     TMP  user of A whose password is still temporary
    LAA  location_admin of A, no loc.  ANO  no credentials
    SUB  staff_submitter of A at L1    EXP  admin of A whose access token has expired
    PRE  staff_preparer of A at L1

Calls that would change data when allowed are made harmless where the API allows it: PATCH and
DELETE send a stale `If-Match`, so an allowed caller gets 412 (authorization passed, nothing
changed) and a refused one 403/404. Creates, password resets, key revocations and the API
password really run, on targets made for this test only.

After every call that is expected to change nothing, the database is compared with a snapshot
taken before: a refused call must leave every table exactly as it was.
"""

import csv
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.config.clock import ManualClock
from tests.fixtures import certificates
from tests.fixtures.certificates import P12
from tests.fixtures.world import World, add_location, add_user, token_response
from tests.security.state import differences, snapshot

COLUMNS = ("OP", "ADM", "LA1", "LAA", "SUB", "PRE", "LNK", "OTH", "TMP", "ANO", "EXP")
STALE = '"999999"'
TEMPORARY_PASSWORD = "first day passphrase"

# SPEC §4, operation by operation. {A}/{B}: the organizations' ids; {self}: the caller's own login
# ID; {n}: a number unique to each call; {key_a}/{key_b}: spare API keys; {api_pw_a}/{api_pw_b}:
# the organizations' API passwords.
MATRIX: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    # Public: the token endpoint and logout do not depend on who calls them.
    ("POST", "/api/v1/auth/token"): {
        "unsupported grant": {
            "form": {"grant_type": "matrix"},
            "expect": "400 400 400 400 400 400 400 400 400 400 400",
        },
    },
    ("POST", "/api/v1/auth/revoke"): {
        "unknown token": {
            "form": {"token": "not-a-refresh-token"},
            "safe": True,
            "expect": "200 200 200 200 200 200 200 200 200 200 200",
        },
    },
    # §5.1: everyone reads who they are; a temporary password may only be changed.
    ("GET", "/api/v1/me"): {
        "self": {"expect": "200 200 200 200 200 200 200 200 403 401 401"},
    },
    # §4 "change own password": every person; a linked system has no personal password.
    ("PUT", "/api/v1/me/password"): {
        "wrong current password": {
            "json": {"current_password": "not the current one", "new_password": "another long passphrase"},
            "expect": "422 422 422 422 422 422 403 422 422 401 401",
            # §5.1: a wrong current password counts as a failed login (and is audited).
            "records_failure": True,
        },
    },
    # §4 "read the organization": operator any, everyone else their own.
    ("GET", "/api/v1/organizations"): {
        "list": {"expect": "200 200 200 200 200 200 200 200 403 401 401"},
    },
    # §4 "create (onboard) an organization": operator only.
    ("POST", "/api/v1/organizations"): {
        "onboard": {
            "json": {
                "name": "株式会社新規",
                "short_name": "新規",
                "admins": [{"login_id": "new.admin{n}", "name": "新規 管理者"}],
            },
            "expect": "201 403 403 403 403 403 403 403 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 200 200 200 200 200 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
        "no such org": {
            "path": {"org_id": "999999999"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    # §4 "change organization name, short name": operator, admin of its own.
    ("PATCH", "/api/v1/organizations/{org_id}"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "json": {"name": "株式会社変更"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"name": "株式会社変更"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
        "id in body": {
            "path": {"org_id": "{A}"},
            "json": {"id": "{B}"},
            "expect": "422 422 403 403 403 403 403 404 403 401 401",
        },
    },
    # §4 "read locations": operator any, admin and linked system all of own org, others own scope.
    ("GET", "/api/v1/organizations/{org_id}/locations"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 200 200 200 200 200 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    # §4 "create, change, delete locations": operator, admin of own org.
    ("POST", "/api/v1/organizations/{org_id}/locations"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "json": {"code": "M{n}", "name": "追加拠点", "short_name": "追加"},
            "expect": "201 201 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"code": "M{n}", "name": "追加拠点", "short_name": "追加"},
            "expect": "201 404 404 404 404 404 404 201 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/locations/{code}"): {
        "own location": {
            "path": {"org_id": "{A}", "code": "L1"},
            "expect": "200 200 200 200 200 200 200 404 403 401 401",
        },
        "other location": {
            "path": {"org_id": "{A}", "code": "L2"},
            "expect": "200 200 404 200 404 404 200 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "code": "L1"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    ("PATCH", "/api/v1/organizations/{org_id}/locations/{code}"): {
        "own location": {
            "path": {"org_id": "{A}", "code": "L1"},
            "json": {"name": "変更拠点"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other location": {
            "path": {"org_id": "{A}", "code": "L2"},
            "json": {"name": "変更拠点"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "code": "L1"},
            "json": {"name": "変更拠点"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
        "code in body": {
            "path": {"org_id": "{A}", "code": "L1"},
            "json": {"code": "L9"},
            "expect": "422 422 403 403 403 403 403 404 403 401 401",
        },
    },
    # A location with users assigned cannot be deleted (409), whoever asks.
    ("DELETE", "/api/v1/organizations/{org_id}/locations/{code}"): {
        "in use": {
            "path": {"org_id": "{A}", "code": "L1"},
            "if_match": STALE,
            "expect": "409 409 403 403 403 403 403 404 403 401 401",
        },
        "empty": {
            "path": {"org_id": "{A}", "code": "L3"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "code": "B9"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
    },
    # §4 "read users": operator any, admin own org, location admin own scope, staff only self; no linked system.
    ("GET", "/api/v1/organizations/{org_id}/users"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 200 200 200 200 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    # §4 "create location_admin, staff_* users": operator, admin own org, location admin staff in own
    # scope; "create admin users": operator only. The location is named in the body.
    ("POST", "/api/v1/organizations/{org_id}/users"): {
        "staff at own location": {
            "path": {"org_id": "{A}"},
            "json": {"role": "staff_submitter", "location_code": "L1"},
            "expect": "201 201 201 201 403 403 403 404 403 401 401",
        },
        "staff at other location": {
            "path": {"org_id": "{A}"},
            "json": {"role": "staff_preparer", "location_code": "L2"},
            # LA1: a location outside its scope is, to it, a location that does not exist (422).
            "expect": "201 201 422 201 403 403 403 404 403 401 401",
        },
        "staff at all locations": {
            "path": {"org_id": "{A}"},
            "json": {"role": "staff_submitter", "location_code": None},
            "expect": "201 201 403 201 403 403 403 404 403 401 401",
        },
        "location admin": {
            "path": {"org_id": "{A}"},
            "json": {"role": "location_admin", "location_code": "L1"},
            "expect": "201 201 403 403 403 403 403 404 403 401 401",
        },
        "admin": {
            "path": {"org_id": "{A}"},
            "json": {"role": "admin", "location_code": None},
            "expect": "201 403 403 403 403 403 403 404 403 401 401",
        },
        "other org's location in body": {
            "path": {"org_id": "{A}"},
            "json": {"role": "staff_submitter", "location_code": "B9"},
            "expect": "422 422 422 422 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"role": "staff_submitter", "location_code": "L1"},
            "expect": "201 404 404 404 404 404 404 201 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/users/{login_id}"): {
        "self": {
            "path": {"org_id": "{A}", "login_id": "{self}"},
            "expect": "404 200 200 200 200 200 403 404 403 401 401",
        },
        "staff at own location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "expect": "200 200 200 200 404 404 403 404 403 401 401",
        },
        "staff at other location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l2"},
            "expect": "200 200 404 200 404 404 403 404 403 401 401",
        },
        "admin": {
            "path": {"org_id": "{A}", "login_id": "a.admin2"},
            "expect": "200 200 404 200 404 404 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "login_id": "b.staff"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    # §4: location admins never move a user out of their scope nor give a role above staff_*;
    # only operators change an admin's role; admins may rename admins.
    ("PATCH", "/api/v1/organizations/{org_id}/users/{login_id}"): {
        "rename staff at own location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"name": "改名"},
            "if_match": STALE,
            "expect": "412 412 412 412 403 403 403 404 403 401 401",
        },
        "rename staff at other location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l2"},
            "json": {"name": "改名"},
            "if_match": STALE,
            "expect": "412 412 404 412 403 403 403 404 403 401 401",
        },
        "rename admin": {
            "path": {"org_id": "{A}", "login_id": "a.admin2"},
            "json": {"name": "改名"},
            "if_match": STALE,
            "expect": "412 412 404 403 403 403 403 404 403 401 401",
        },
        "rename self": {
            "path": {"org_id": "{A}", "login_id": "{self}"},
            "json": {"name": "改名"},
            "if_match": STALE,
            "expect": "404 412 403 403 403 403 403 404 403 401 401",
        },
        "promote staff to admin": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"role": "admin", "location_code": None},
            "if_match": STALE,
            "expect": "412 403 403 403 403 403 403 404 403 401 401",
        },
        "promote staff to location admin": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"role": "location_admin"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "move staff to other location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"location_code": "L2"},
            "if_match": STALE,
            # LA1: a location outside its scope is, to it, a location that does not exist (422).
            "expect": "412 412 422 412 403 403 403 404 403 401 401",
        },
        "move staff to all locations": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"location_code": None},
            "if_match": STALE,
            "expect": "412 412 403 412 403 403 403 404 403 401 401",
        },
        "other org's location in body": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"location_code": "B9"},
            "if_match": STALE,
            "expect": "422 422 422 422 403 403 403 404 403 401 401",
        },
        "demote admin": {
            "path": {"org_id": "{A}", "login_id": "a.admin2"},
            "json": {"role": "staff_submitter", "location_code": "L1"},
            "if_match": STALE,
            "expect": "412 403 404 403 403 403 403 404 403 401 401",
        },
        "login id in body": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "json": {"login_id": "renamed"},
            "expect": "422 422 422 422 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "login_id": "b.staff"},
            "json": {"name": "改名"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
    },
    # §4: nobody deletes themselves; admins are deleted by operators only.
    ("DELETE", "/api/v1/organizations/{org_id}/users/{login_id}"): {
        "staff at own location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "if_match": STALE,
            "expect": "412 412 412 412 403 403 403 404 403 401 401",
        },
        "staff at other location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l2"},
            "if_match": STALE,
            "expect": "412 412 404 412 403 403 403 404 403 401 401",
        },
        "admin": {
            "path": {"org_id": "{A}", "login_id": "a.admin2"},
            "if_match": STALE,
            "expect": "412 403 404 403 403 403 403 404 403 401 401",
        },
        "self": {
            "path": {"org_id": "{A}", "login_id": "{self}"},
            "if_match": STALE,
            "expect": "404 409 409 409 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "login_id": "b.staff"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
    },
    # §4 "reset another user's password": operator; admin own org, not self; location admin staff in scope.
    ("POST", "/api/v1/organizations/{org_id}/users/{login_id}/password-reset"): {
        "staff at own location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l1"},
            "expect": "200 200 200 200 403 403 403 404 403 401 401",
        },
        "staff at other location": {
            "path": {"org_id": "{A}", "login_id": "t.staff.l2"},
            "expect": "200 200 404 200 403 403 403 404 403 401 401",
        },
        "admin": {
            "path": {"org_id": "{A}", "login_id": "a.admin2"},
            "expect": "200 200 404 403 403 403 403 404 403 401 401",
        },
        "self": {
            "path": {"org_id": "{A}", "login_id": "{self}"},
            "expect": "404 403 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "login_id": "b.staff"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    # §4 "issue, list, revoke API keys; set the API password": operator, admin own org (and the
    # linked system changes the API password it authenticates with).
    ("GET", "/api/v1/organizations/{org_id}/api-keys"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 403 403 403 403 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    ("POST", "/api/v1/organizations/{org_id}/api-keys"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "json": {"label": "matrix"},
            "expect": "201 201 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"label": "matrix"},
            "expect": "201 404 404 404 404 404 404 201 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/api-keys/{key_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "key_id": "{key_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "key_id": "{key_b}"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
        "own org's key under other org": {
            "path": {"org_id": "{B}", "key_id": "{key_a}"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    ("DELETE", "/api/v1/organizations/{org_id}/api-keys/{key_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "key_id": "{key_a}"},
            "expect": "204 204 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "key_id": "{key_b}"},
            "expect": "204 404 404 404 404 404 404 204 403 401 401",
        },
        "own org's key under other org": {
            "path": {"org_id": "{B}", "key_id": "{key_a}"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    ("PUT", "/api/v1/organizations/{org_id}/api-password"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "json": {"current_password": "{api_pw_a}", "new_password": "{api_pw_a}"},
            "expect": "200 200 403 403 403 403 200 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"current_password": "{api_pw_b}", "new_password": "{api_pw_b}"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    # §4 "read audit events": operator any, admin own org.
    ("GET", "/api/v1/organizations/{org_id}/audit-events"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 403 403 403 403 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    # §4 "read the change feed": operator any, admin own org, linked system own org.
    ("GET", "/api/v1/organizations/{org_id}/changes"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 403 403 403 403 200 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    # §4 "download locations CSV": as reading locations (a linked system too); the rows are checked
    # by check_visibility. "download users CSV": as reading users, but not staff.
    ("GET", "/api/v1/organizations/{org_id}/exports/locations"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 200 200 200 200 200 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    ("GET", "/api/v1/organizations/{org_id}/exports/users"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 200 200 403 403 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    # §4 "upload locations CSV": operator, admin of own org; never a linked system.
    ("POST", "/api/v1/organizations/{org_id}/imports/locations"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "csv": "code,name,short_name\r\nC{n},一括拠点,一括\r\n",
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "csv": "code,name,short_name\r\nC{n},一括拠点,一括\r\n",
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    # §4 "upload users CSV": operator; admin own org but not admin rows; location admin staff rows
    # within its scope. A row the caller may not write is a row error (422), and nothing changes.
    ("POST", "/api/v1/organizations/{org_id}/imports/users"): {
        "staff at own location": {
            "path": {"org_id": "{A}"},
            "csv": "login_id,name,location_code,role\r\nu{n},一括 利用者,L1,staff_submitter\r\n",
            "expect": "200 200 200 200 403 403 403 404 403 401 401",
        },
        "staff at other location": {
            "path": {"org_id": "{A}"},
            "csv": "login_id,name,location_code,role\r\nu{n},一括 利用者,L2,担当者（送信不可）\r\n",
            "expect": "200 200 422 200 403 403 403 404 403 401 401",
        },
        "admin": {
            "path": {"org_id": "{A}"},
            "csv": "login_id,name,location_code,role\r\nu{n},一括 管理者,,管理者\r\n",
            "expect": "200 422 422 422 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "csv": "login_id,name,location_code,role\r\nu{n},一括 利用者,L1,staff_submitter\r\n",
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
    },
    # §4 "register, list, read, delete the requester certificate": operator, admin own org. An
    # unreadable file is the harmless probe (an allowed caller gets 422 and nothing is stored).
    ("POST", "/api/v1/organizations/{org_id}/certificates"): {
        "unreadable file": {
            "path": {"org_id": "{A}"},
            "upload": "unreadable",
            "expect": "422 422 403 403 403 403 403 404 403 401 401",
        },
        "unreadable file, other org": {
            "path": {"org_id": "{B}"},
            "upload": "unreadable",
            "expect": "422 404 404 404 404 404 404 422 403 401 401",
        },
        "new certificate": {
            "path": {"org_id": "{A}"},
            "upload": "new",
            "expect": "201 201 403 403 403 403 403 404 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/certificates"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 403 403 403 403 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    ("GET", "/api/v1/organizations/{org_id}/certificates/{certificate_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "certificate_id": "{cert_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "certificate_id": "{cert_b}"},
            "expect": "200 404 404 404 404 404 404 200 403 401 401",
        },
        "own org's certificate under other org": {
            "path": {"org_id": "{B}", "certificate_id": "{cert_a}"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/certificates/{certificate_id}/verification"): {
        "own org": {
            "path": {"org_id": "{A}", "certificate_id": "{cert_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
        "own org's certificate under other org": {
            "path": {"org_id": "{B}", "certificate_id": "{cert_a}"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    ("DELETE", "/api/v1/organizations/{org_id}/certificates/{certificate_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "certificate_id": "{cert_a}"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "certificate_id": "{cert_b}"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
    },
    # §4 "list certificates of every organization (expiring soon)": operators only.
    ("GET", "/api/v1/certificates"): {
        "expiring soon": {
            "query": {"expires_within_days": "30"},
            "expect": "200 403 403 403 403 403 403 403 403 401 401",
        },
    },
    # §4 "manage webhook endpoints (§5.7)": operator, admin own org. Creates really run (a local URL);
    # a test message goes to nothing listening and is logged; recover with a bad cursor is harmless.
    ("POST", "/api/v1/organizations/{org_id}/webhook-endpoints"): {
        "own org": {
            "path": {"org_id": "{A}"},
            "json": {"url": "https://localhost/hook"},
            "expect": "201 201 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}"},
            "json": {"url": "https://localhost/hook"},
            "expect": "201 404 404 404 404 404 404 201 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/webhook-endpoints"): {
        "own org": {"path": {"org_id": "{A}"}, "expect": "200 200 403 403 403 403 403 404 403 401 401"},
        "other org": {"path": {"org_id": "{B}"}, "expect": "200 404 404 404 404 404 404 200 403 401 401"},
    },
    ("GET", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
        "own org's endpoint under other org": {
            "path": {"org_id": "{B}", "endpoint_id": "{hook_a}"},
            "expect": "404 404 404 404 404 404 404 404 403 401 401",
        },
    },
    ("PATCH", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "json": {"description": "変更"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
        "other org": {
            "path": {"org_id": "{B}", "endpoint_id": "{hook_b}"},
            "json": {"description": "変更"},
            "if_match": STALE,
            "expect": "412 404 404 404 404 404 404 412 403 401 401",
        },
    },
    ("DELETE", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
    },
    ("POST", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}/rotate-secret"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "if_match": STALE,
            "expect": "412 412 403 403 403 403 403 404 403 401 401",
        },
    },
    ("POST", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}/test"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
    },
    ("GET", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}/deliveries"): {
        "own org": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "expect": "200 200 403 403 403 403 403 404 403 401 401",
        },
    },
    ("POST", "/api/v1/organizations/{org_id}/webhook-endpoints/{endpoint_id}/recover"): {
        "own org, bad cursor": {
            "path": {"org_id": "{A}", "endpoint_id": "{hook_a}"},
            "json": {"after": "nonsense"},
            "expect": "400 400 403 403 403 403 403 404 403 401 401",
        },
    },
    # Load balancer probes: public.
    ("GET", "/healthz"): {"probe": {"expect": "200 200 200 200 200 200 200 200 200 200 200"}},
    ("GET", "/readyz"): {"probe": {"expect": "200 200 200 200 200 200 200 200 200 200 200"}},
    # Metrics answer their own bearer token only (tests/shape/test_metrics.py); off here: 404.
    ("GET", "/metrics"): {"probe": {"expect": "404 404 404 404 404 404 404 404 404 404 404"}},
}

# What each caller sees in organization A's lists (§4 "read locations", "read users": scope).
A_USERS = {"a.admin", "a.admin2", "la.l1", "la.all", "submitter.l1", "preparer.l1", "submitter.l2"}
A_USERS |= {"t.staff.l1", "t.staff.l2", "temp.user"}
VISIBLE_IN_A: dict[str, dict[str, set[str]]] = {
    "locations": {
        "OP": {"L1", "L2", "L3"},
        "ADM": {"L1", "L2", "L3"},
        "LA1": {"L1"},
        "LAA": {"L1", "L2", "L3"},
        "SUB": {"L1"},
        "PRE": {"L1"},
        "LNK": {"L1", "L2", "L3"},
    },
    "users": {
        "OP": A_USERS,
        "ADM": A_USERS,
        "LA1": {"la.l1", "submitter.l1", "preparer.l1", "t.staff.l1", "temp.user"},
        "LAA": A_USERS,
        "SUB": {"submitter.l1"},
        "PRE": {"preparer.l1"},
    },
}
SELF_LOGIN = {
    "OP": "operator1",
    "ADM": "a.admin",
    "LA1": "la.l1",
    "LAA": "la.all",
    "SUB": "submitter.l1",
    "PRE": "preparer.l1",
    "LNK": "no.such.user",
    "OTH": "b.admin",
    "TMP": "temp.user",
    "ANO": "a.admin",
    "EXP": "a.admin",
}
MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Call:
    """One cell of the matrix, ready to send."""

    operation: tuple[str, str]
    case: str
    column: str
    expected: int
    spec: dict[str, Any]

    @property
    def changes_data(self) -> bool:
        """Whether an answer as expected may have changed the database."""
        if self.spec.get("records_failure"):
            return True
        return (
            self.operation[0] in MUTATING_METHODS and 200 <= self.expected < 300 and not self.spec.get("safe")
        )

    def label(self) -> str:
        """How a failure names this call."""
        return f"{self.operation[0]} {self.operation[1]} [{self.case}] as {self.column}"


@dataclass
class Setting:
    """The values substituted into the table, and each column's credentials."""

    values: dict[str, str]
    headers: dict[str, dict[str, str]]
    counter: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    uploads: dict[str, Callable[[], P12]] = field(default_factory=dict)  # certificate files by kind


def operations_of(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) of the app's OpenAPI document."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def calls_of_matrix() -> list[Call]:
    """The table, expanded into one call per (operation, case, column)."""
    calls = []
    for operation, cases in MATRIX.items():
        for case, spec in cases.items():
            statuses = spec["expect"].split()
            assert len(statuses) == len(COLUMNS), f"{operation} [{case}] needs {len(COLUMNS)} statuses"
            for column, status in zip(COLUMNS, statuses, strict=True):
                calls.append(Call(operation, case, column, int(status), spec))
    return calls


def substitute(value: Any, values: dict[str, str]) -> Any:
    """Fill {placeholders} in strings, recursively."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], value)
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    return value


async def send(client: httpx.AsyncClient, setting: Setting, call: Call) -> httpx.Response:
    """Send one call of the matrix as its column's principal."""
    values = {**setting.values, "self": SELF_LOGIN[call.column], "n": str(next(setting.counter))}
    method, template = call.operation
    path = template.format(**substitute(call.spec.get("path", {}), values))
    headers = dict(setting.headers[call.column])
    if "if_match" in call.spec:
        headers["If-Match"] = call.spec["if_match"]
    kwargs: dict[str, Any] = {"headers": headers}
    if "json" in call.spec:
        body = substitute(call.spec["json"], values)
        if call.operation == ("POST", "/api/v1/organizations/{org_id}/users"):
            body = {
                "login_id": f"m{values['n']}",
                "name": "追加 利用者",
                "password": "matrix passphrase 1",
                **body,
            }
        kwargs["json"] = body
    if "form" in call.spec:
        kwargs["data"] = call.spec["form"]
    if "csv" in call.spec:
        kwargs["content"] = substitute(call.spec["csv"], values).encode()
        headers["Content-Type"] = "text/csv"
    if "query" in call.spec:
        kwargs["params"] = call.spec["query"]
    if "upload" in call.spec:
        p12 = setting.uploads[call.spec["upload"]]()
        kwargs["files"] = {"file": ("requester.p12", p12.data)}
        kwargs["data"] = {"password": p12.password}
    return await client.request(method, path, **kwargs)


async def prepare(app: FastAPI, client: httpx.AsyncClient, world: World) -> Setting:
    """The world, plus what the table's cases name: a second admin, targets, spare keys, L3, B9."""
    a, b = world.a, world.b
    operator_headers = world.operator.headers
    created = await client.post(
        f"{a.path}/users",
        json={
            "login_id": "a.admin2",
            "name": "管理 次郎",
            "password": TEMPORARY_PASSWORD,
            "location_code": None,
            "role": "admin",
        },
        headers=operator_headers,
    )
    assert created.status_code == 201, created.text
    for login_id, role, code in (
        ("t.staff.l1", "staff_submitter", "L1"),
        ("t.staff.l2", "staff_preparer", "L2"),
        ("temp.user", "staff_submitter", "L1"),
    ):
        response = await client.post(
            f"{a.path}/users",
            json={
                "login_id": login_id,
                "name": "対象",
                "password": TEMPORARY_PASSWORD,
                "location_code": code,
                "role": role,
            },
            headers=a.admin.headers,
        )
        assert response.status_code == 201, response.text
    await add_location(client, a, "L3", "第三拠点")
    await add_location(client, b, "B9", "別会社第九")
    await add_user(client, b, b.admin, "b.staff", "staff_submitter", "L1")
    temporary = await token_response(client, "temp.user", TEMPORARY_PASSWORD)
    assert temporary.json()["password_change_required"] is True
    spare = {}
    for org, name in ((a, "key_a"), (b, "key_b")):
        issued = await client.post(f"{org.path}/api-keys", json={"label": "spare"}, headers=org.admin.headers)
        assert issued.status_code == 201, issued.text
        spare[name] = issued.json()["id"]
    # A certificate of each organization; uploads of a new file (each its own) or an unreadable one.
    now = app.state.runtime.clock.now()
    for org, name in ((a, "cert_a"), (b, "cert_b")):
        registered = await certificates.upload(client, org.path, org.admin, certificates.ec_p256(now))
        assert registered.status_code == 201, registered.text
        spare[name] = registered.json()["id"]
    uploads = {"new": lambda: certificates.ec_p256(now), "unreadable": lambda: certificates.garbage(now)}
    # A webhook endpoint of each organization (SPEC §5.7).
    for org, name in ((a, "hook_a"), (b, "hook_b")):
        hook = await client.post(
            f"{org.path}/webhook-endpoints", json={"url": "https://localhost/hook"}, headers=org.admin.headers
        )
        assert hook.status_code == 201, hook.text
        spare[name] = hook.json()["id"]
    # The linked system's first request stores its fast-path digest; later ones change nothing.
    warm = await client.get("/api/v1/me", headers=a.basic())
    assert warm.status_code == 200, warm.text
    headers = {
        "OP": world.operator.headers,
        "ADM": a.admin.headers,
        "LA1": world["location_admin_l1"].headers,
        "LAA": world["location_admin_all"].headers,
        "SUB": world["staff_submitter_l1"].headers,
        "PRE": world["staff_preparer_l1"].headers,
        "LNK": a.basic(),
        "OTH": b.admin.headers,
        "TMP": {"Authorization": f"Bearer {temporary.json()['access_token']}"},
        "ANO": {},
        "EXP": a.admin.headers,
    }
    values = {"A": a.id, "B": b.id, "api_pw_a": a.api_password, "api_pw_b": b.api_password, **spare}
    return Setting(values, headers, uploads=uploads)


def check_answer(call: Call, response: httpx.Response, problems: list[str]) -> None:
    """The status the table expects; errors as problem+json; 404 the same as for a missing resource."""
    if response.status_code != call.expected:
        problems.append(
            f"{call.label()}: expected {call.expected}, got {response.status_code} {response.text[:160]}"
        )
        return
    if response.status_code >= 400:
        if response.headers.get("content-type") != "application/problem+json":
            problems.append(f"{call.label()}: error is not problem+json")
        elif response.status_code == 404 and response.json().get("code") != "not_found":
            problems.append(f"{call.label()}: 404 with code {response.json().get('code')}, not `not_found`")


def check_visibility(call: Call, response: httpx.Response, problems: list[str]) -> None:
    """Lists of A show exactly the caller's scope."""
    method, path = call.operation
    kind = path.rsplit("/", 1)[-1]
    if method != "GET" or call.case != "own org" or kind not in VISIBLE_IN_A or response.status_code != 200:
        return
    expected = VISIBLE_IN_A[kind].get(call.column)
    if expected is None:
        return
    if "/exports/" in path:  # a CSV download: the first column of each row after the heading
        seen = {row[0] for row in list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]}
    else:
        key = "code" if kind == "locations" else "login_id"
        seen = {item[key] for item in response.json()["items"]}
    if seen != expected:
        problems.append(f"{call.label()}: sees {sorted(seen)}, expected {sorted(expected)}")


def test_every_operation_has_a_row(app: FastAPI) -> None:
    """A new endpoint without a row in MATRIX fails here (and so does a row for a removed one)."""
    served = operations_of(app)
    assert served - set(MATRIX) == set(), (
        f"operations without a row in MATRIX: {sorted(served - set(MATRIX))}"
    )
    assert set(MATRIX) - served == set(), (
        f"rows for operations the app no longer has: {sorted(set(MATRIX) - served)}"
    )


async def test_access_matrix(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    assert operations_of(app) == set(MATRIX), "see test_every_operation_has_a_row"
    setting = await prepare(app, client, world)
    calls = calls_of_matrix()
    problems: list[str] = []
    harmless = [call for call in calls if call.column != "EXP" and not call.changes_data]
    changing = [call for call in calls if call.column != "EXP" and call.changes_data]
    expired = [call for call in calls if call.column == "EXP"]

    # 1. Everything that must change nothing: refused calls, reads, stale-If-Match probes.
    before = await snapshot(app.state.runtime.engine)
    for call in harmless:
        response = await send(client, setting, call)
        check_answer(call, response, problems)
        check_visibility(call, response, problems)
    problems += [
        f"calls that must change nothing changed {table}"
        for table in differences(before, await snapshot(app.state.runtime.engine))
    ]

    # 2. Allowed changes, each on a target of its own.
    for call in changing:
        check_answer(call, await send(client, setting, call), problems)

    # 3. The same admin token, 31 minutes later: expired everywhere, and nothing changes.
    clock.advance(timedelta(minutes=31))
    before = await snapshot(app.state.runtime.engine)
    for call in expired:
        check_answer(call, await send(client, setting, call), problems)
    problems += [
        f"calls with an expired token changed {table}"
        for table in differences(before, await snapshot(app.state.runtime.engine))
    ]

    assert not problems, f"{len(problems)} of {len(calls)} calls broke SPEC §4:\n" + "\n".join(problems)
    principals = len(COLUMNS)
    print(
        f"access matrix: {len(MATRIX)} operations, {len(calls) // principals} cases x {principals} principals = {len(calls)} calls"
    )
