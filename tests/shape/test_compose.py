"""deploy/compose.yaml cannot run here (no Docker): it is read as YAML and held to the shape that
bench/shape.py runs without containers, so that the two do not drift apart."""

from pathlib import Path
from typing import Any

import yaml

from app.config.settings import Settings
from bench.shape import HAPROXY_CONFIG, PGBOUNCER_CONFIG, instance_env

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return document


def test_the_services_of_the_shape() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "pgbouncer", "migrate", "ainas1", "ainas2", "haproxy"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["haproxy"]["image"].startswith("haproxy:2.6")  # Debian bookworm's HAProxy
    assert (DEPLOY / services["pgbouncer"]["build"]["dockerfile"]).read_text().count("apt-get install") == 1


def test_instances_go_through_pgbouncer_in_pooler_mode_and_listen_direct() -> None:
    services = compose()["services"]
    for name in ("ainas1", "ainas2"):
        instance = services[name]
        env = instance["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://postgres@pgbouncer:6432/")
        assert env["AINAS_DATABASE_POOLER"] == "transaction"
        assert env["AINAS_LISTEN_DATABASE_URL"].startswith("postgresql://postgres@postgres:5432/")
        assert instance["command"][:2] == ["ainas", "serve"]
        assert instance["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        # Docker's SIGKILL comes after the drain's grace, not during it.
        grace = float(env["AINAS_SHUTDOWN_GRACE_S"])
        assert float(instance["stop_grace_period"].rstrip("s")) > grace
        # What the script sets for its instances, the compose file sets too.
        assert set(instance_env("postgresql://a", "postgresql://b", {})) - {
            "PYTHONPATH",
            "AINAS_DB_POOL_SIZE",
        } <= set(env) | {"AINAS_SECRET_KEY", "AINAS_CERTIFICATE_KEY"}
        settings = {key.removeprefix("AINAS_").lower() for key in env if key.startswith("AINAS_")}
        assert settings <= set(Settings.model_fields), settings - set(Settings.model_fields)
    # Migrations direct, once.
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith(
        "postgresql://postgres@postgres:5432/"
    )


def test_the_config_files_are_the_scripts_own() -> None:
    haproxy = HAPROXY_CONFIG.format(
        bind="*:8080",
        servers="    server instance1 ainas1:8000 check\n    server instance2 ainas2:8000 check\n",
    )
    assert (DEPLOY / "haproxy.cfg").read_text() == haproxy
    pgbouncer = PGBOUNCER_CONFIG.format(
        upstream_host="postgres",
        upstream_port=5432,
        listen_addr="0.0.0.0",  # noqa: S104 (inside the compose network)
        listen_port=6432,
        auth_file="/etc/pgbouncer/userlist.txt",
        user="postgres",
    )
    assert (DEPLOY / "pgbouncer.ini").read_text() == pgbouncer
    assert "pool_mode = transaction" in pgbouncer
    # Stock settings: nothing that makes PgBouncer accept what it refuses by default.
    assert "ignore_startup_parameters" not in pgbouncer
    assert "max_prepared_statements" not in pgbouncer
    services = compose()["services"]
    assert services["haproxy"]["volumes"] == ["./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]
    assert "option httpchk GET /readyz" in haproxy
