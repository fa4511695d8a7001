"""Many instances (issue 6 item 5): two service processes on one database.

The list scenario runs against one instance, then against two instances at once (half of the
connections each, as a load balancer would spread them). Then a few checks show that what must
hold across instances does: a key revoked through one instance is refused by the other at once,
an account locked through one is locked on the other, and an Idempotency-Key used on one is
replayed by the other. (The test suite has the tests; these checks only show it under the
benchmark's production-like setup.)
"""

import argparse
import secrets
from typing import Any

import httpx

from bench import cpu, data, load
from bench.run import Servers, prepare, scenarios
from bench.servers import service
from bench.world import PASSWORD


def _basic_works(url: str, org: str, key: str, password: str) -> int:
    answer = httpx.get(
        f"{url}/api/v1/organizations/{org}/locations?limit=1", auth=(key, password), timeout=30
    )
    return answer.status_code


def checks(a: str, b: str, servers: Servers) -> dict[str, Any]:
    """State that must hold across instances, changed through A and observed through B."""
    ctx = servers.context
    admin = {"Authorization": f"Bearer {ctx.main_token}"}
    org = ctx.main.id
    results: dict[str, Any] = {}

    issued = httpx.post(
        f"{a}/api/v1/organizations/{org}/api-keys", json={"label": "bench"}, headers=admin, timeout=30
    )
    issued.raise_for_status()
    key = issued.json()
    before = _basic_works(b, org, key["key"], ctx.main.api_password)
    revoked = httpx.delete(f"{a}/api/v1/organizations/{org}/api-keys/{key['id']}", headers=admin, timeout=30)
    after = _basic_works(b, org, key["key"], ctx.main.api_password)
    results["key_revocation"] = {
        "basic_on_b_before": before,
        "revoke_on_a": revoked.status_code,
        "basic_on_b_after": after,
        "holds": before == 200 and revoked.status_code == 204 and after == 401,
    }

    victim = servers.context.logins[-1]
    failures = [
        httpx.post(
            f"{a}/api/v1/auth/token",
            data={"grant_type": "password", "username": victim, "password": "wrong password 123"},
            timeout=30,
        ).status_code
        for _ in range(5)
    ]
    locked = httpx.post(
        f"{b}/api/v1/auth/token",
        data={"grant_type": "password", "username": victim, "password": PASSWORD},
        timeout=30,
    )
    code = locked.json().get("code") if locked.headers.get("content-type", "").endswith("json") else None
    results["lockout"] = {
        "failures_on_a": failures,
        "right_password_on_b": locked.status_code,
        "code": code,
        "holds": locked.status_code in (400, 401) and code == "account_locked",
    }

    key_header = {**admin, "Idempotency-Key": secrets.token_hex(8)}
    body = {"code": "IDEM01", "name": "冪等性確認拠点", "short_name": "冪等確認"}
    first = httpx.post(f"{a}/api/v1/organizations/{org}/locations", json=body, headers=key_header, timeout=30)
    again = httpx.post(f"{b}/api/v1/organizations/{org}/locations", json=body, headers=key_header, timeout=30)
    other = httpx.post(
        f"{b}/api/v1/organizations/{org}/locations",
        json={**body, "name": "別の内容の拠点"},
        headers=key_header,
        timeout=30,
    )
    results["idempotency"] = {
        "first_on_a": first.status_code,
        "retry_on_b": again.status_code,
        "retry_replayed": again.headers.get("idempotent-replayed"),
        "same_body": again.content == first.content,
        "other_body_on_b": other.status_code,
        "holds": first.status_code == 201
        and again.status_code == 201
        and again.content == first.content
        and other.status_code == 422,
    }
    return results


def instances(args: argparse.Namespace) -> dict[str, Any]:
    """The list on one instance, then on two; then the cross-instance checks."""
    servers = prepare(data.MAIN, "ainas_instances", with_baseline=False)
    second = service(servers.env).start()
    try:
        ctx = servers.context
        listing = next(
            scenario
            for scenario in scenarios(args.connections, args.login_connections)
            if scenario.key == "list_bearer"
        )
        target = listing.path(ctx)
        headers = listing.request(ctx, "service", 0)["headers"]
        one_a = servers.service
        load.run(one_a.url + target, seconds=args.warmup or 1, connections=args.connections, headers=headers)
        load.run(second.url + target, seconds=args.warmup or 1, connections=args.connections, headers=headers)
        cpu.wait_for_quiet()
        single = load.run(
            one_a.url + target, seconds=args.duration, connections=args.connections, headers=headers
        )
        cpu.wait_for_quiet()
        half = max(1, args.connections // 2)
        runs = [
            load.start(server.url + target, seconds=args.duration, connections=half, headers=headers)
            for server in (one_a, second)
        ]
        both = [load.finish(process, path, timeout=args.duration + 60) for process, path in runs]
        combined = {
            "rps": round(sum(run.rps for run in both), 1),
            "p50_ms": max(run.p50_ms for run in both),
            "p99_ms": max(run.p99_ms for run in both),
            "errors": sum(run.errors for run in both),
            "runs": [run.as_dict() for run in both],
        }
        print(
            f"  one instance : {single.rps:8.1f} req/s  p50 {single.p50_ms:.1f} ms  p99 {single.p99_ms:.1f} ms\n"
            f"  two instances: {combined['rps']:8.1f} req/s  p50 {combined['p50_ms']:.1f} ms  "
            f"p99 {combined['p99_ms']:.1f} ms (worse of the two)",
            flush=True,
        )
        held = checks(one_a.url, second.url, servers)
        for name, outcome in held.items():
            print(f"  {name}: {'holds' if outcome['holds'] else 'DOES NOT HOLD'} {outcome}", flush=True)
        return {"one": single.as_dict(), "two": combined, "checks": held}
    finally:
        second.stop()
        servers.stop()
