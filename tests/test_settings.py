"""Settings from the environment: the documented defaults, the rewrites that save an operator
a confusing failure later, and the validation that names the variable to fix."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.settings import Settings
from tests.conftest import ROOT

VARIABLES = [field.alias for field in Settings.model_fields.values()]
VALID_PUBLIC_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """An environment without any CloudGreet variable and no .env file; returns a setter."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # Settings reads .env from the working directory

    def settings(**variables: str) -> Settings:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return Settings()

    return settings


def readme_settings_table() -> dict[str, str]:
    """{variable: default as written} from the table under README.md's `## Settings`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*`([A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|", section, flags=re.MULTILINE)
    assert rows, "README.md has no settings table"
    return dict(rows)


def test_defaults_need_no_environment(environment) -> None:
    settings = environment()
    assert settings.database_url == "sqlite:///data/cloudgreet.db"
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.temporal_task_queue == "cloudgreet-calls"
    assert settings.telnyx_base_url == "https://api.telnyx.com/v2"
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.telnyx_api_key is None
    assert settings.telnyx_public_key is None
    assert settings.openai_api_key is None
    assert settings.llm_configured is False  # the offline responder answers
    assert settings.log_format == "console"


def test_a_dotenv_file_in_the_working_directory_is_read(environment, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\nOPENAI_MODEL=gpt-test\n")
    settings = environment()
    assert settings.openai_api_key == "sk-from-dotenv"
    assert settings.llm_configured is True
    assert settings.openai_model == "gpt-test"


def test_the_environment_wins_over_dotenv(environment, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_MODEL=from-dotenv\n")
    assert environment(OPENAI_MODEL="from-environment").openai_model == "from-environment"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://app:secret@db:5432/cloudgreet", "postgresql+psycopg://app:secret@db:5432/cloudgreet"),
        ("postgres://app:secret@db/cloudgreet", "postgresql+psycopg://app:secret@db/cloudgreet"),
        ("postgresql+psycopg://app@db/cloudgreet", "postgresql+psycopg://app@db/cloudgreet"),
        ("sqlite:////var/lib/cloudgreet/calls.db", "sqlite:////var/lib/cloudgreet/calls.db"),
    ],
)
def test_postgres_urls_use_the_installed_psycopg3_driver(environment, given: str, used: str) -> None:
    assert environment(DATABASE_URL=given).database_url == used


def test_base_urls_lose_a_trailing_slash(environment) -> None:
    settings = environment(TELNYX_BASE_URL="http://127.0.0.1:8090/v2/", OPENAI_BASE_URL="https://llm.example/v1/")
    assert settings.telnyx_base_url == "http://127.0.0.1:8090/v2"
    assert settings.openai_base_url == "https://llm.example/v1"


@pytest.mark.parametrize("variable", ["TELNYX_BASE_URL", "OPENAI_BASE_URL"])
@pytest.mark.parametrize("url", ["api.telnyx.com/v2", "ftp://example.com/v2", "127.0.0.1:8090"])
def test_a_base_url_must_be_http(environment, variable: str, url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        environment(**{variable: url})
    assert variable in str(raised.value)
    assert "http" in str(raised.value)


def test_a_valid_telnyx_public_key_is_kept(environment) -> None:
    assert environment(TELNYX_PUBLIC_KEY=VALID_PUBLIC_KEY).telnyx_public_key == VALID_PUBLIC_KEY


def test_an_empty_telnyx_public_key_means_none(environment) -> None:
    # As in .env.example: the variable is present but not filled in.
    assert environment(TELNYX_PUBLIC_KEY="").telnyx_public_key is None


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("not base64!", "must be base64"),
        ("abc", "must be base64"),
        (base64.b64encode(bytes(31)).decode(), "32 bytes"),
        (base64.b64encode(bytes(64)).decode(), "32 bytes"),
    ],
)
def test_a_bad_telnyx_public_key_is_rejected_with_the_reason(environment, key: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        environment(TELNYX_PUBLIC_KEY=key)
    assert "TELNYX_PUBLIC_KEY" in str(raised.value)
    assert problem in str(raised.value)


def test_log_format_is_console_or_json(environment) -> None:
    assert environment(LOG_FORMAT="json").log_format == "json"
    with pytest.raises(ValidationError, match="LOG_FORMAT"):
        environment(LOG_FORMAT="xml")


@pytest.mark.parametrize(
    "variable", ["WEBHOOK_MAX_BODY_BYTES", "LLM_FIRST_SENTENCE_TIMEOUT_SECONDS", "TURN_DEADLINE_SECONDS"]
)
def test_limits_must_be_positive(environment, variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        environment(**{variable: "0"})


def test_every_setting_is_documented_in_the_readme_and_every_documented_one_exists() -> None:
    documented = set(readme_settings_table())
    assert documented - set(VARIABLES) == set(), "README.md documents variables that Settings does not read"
    assert set(VARIABLES) - documented == set(), "Settings reads variables that README.md does not document"


def test_the_readme_states_the_real_defaults(environment) -> None:
    defaults = environment()
    for variable, documented in readme_settings_table().items():
        actual = next(getattr(defaults, name) for name, f in Settings.model_fields.items() if f.alias == variable)
        if documented.startswith("(none"):
            assert actual is None, f"{variable}: README says {documented}, the default is {actual!r}"
            continue
        written = documented.strip("`")
        if isinstance(actual, (int, float)) and not isinstance(actual, bool):
            assert float(written) == actual, f"{variable}: README says {documented}, the default is {actual!r}"
        else:
            assert written == str(actual), f"{variable}: README says {documented}, the default is {actual!r}"


GENERATED_SECRET = "9f2c4e7a1b8d3f6e0a5c9b2d7e4f1a8c3b6d9e2f5a8c1b4d"  # what `openssl rand -hex 24` prints


def test_a_generated_secret_key_is_kept_and_an_empty_one_means_none(environment) -> None:
    assert environment(SECRET_KEY=GENERATED_SECRET).secret_key.get_secret_value() == GENERATED_SECRET
    assert environment(SECRET_KEY="").secret_key is None  # as in .env.example: present, not filled in


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0123456789abcdef", "at least 32 characters, not 16"),
        ("change-me-change-me-change-me-change-me", "looks like a placeholder (it contains 'change')"),
        ("your-secret-key-goes-here-1234567890", "looks like a placeholder (it contains 'secret')"),
        ("x" * 64, "repeats a few characters"),
    ],
)
def test_a_weak_secret_key_stops_every_process_with_the_reason_and_is_not_printed(
    environment, value: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        environment(SECRET_KEY=value)
    assert "SECRET_KEY" in str(raised.value) and problem in str(raised.value)
    assert "openssl rand" in str(raised.value)
    assert value not in str(raised.value)


@pytest.mark.parametrize("other", ["ADMIN_API_KEY", "OPENAI_API_KEY", "TELNYX_API_KEY"])
def test_the_secret_key_is_nobody_elses_key(environment, other: str) -> None:
    with pytest.raises(ValidationError) as raised:
        environment(SECRET_KEY=GENERATED_SECRET, **{other: GENERATED_SECRET})
    assert f"SECRET_KEY must be a key of its own, not the value of {other}" in str(raised.value)
    assert GENERATED_SECRET not in str(raised.value)


def test_temporal_is_reached_without_tls_unless_something_asks_for_it(environment) -> None:
    assert environment().temporal_uses_tls is False
    # As in .env.example: the TLS variables present but not filled in.
    blank = environment(
        TEMPORAL_API_KEY="",
        TEMPORAL_TLS="",
        TEMPORAL_TLS_CLIENT_CERT_PATH="",
        TEMPORAL_TLS_CLIENT_KEY_PATH="",
        TEMPORAL_TLS_SERVER_CA_CERT_PATH="",
        TEMPORAL_TLS_SERVER_NAME="",
    )
    assert blank.temporal_uses_tls is False
    assert blank.temporal_api_key is None


@pytest.mark.parametrize(
    ("variables", "uses_tls"),
    [
        ({"TEMPORAL_TLS": "true"}, True),  # a cluster whose certificate a public CA signed
        ({"TEMPORAL_API_KEY": "temporal-cloud-key"}, True),  # API keys travel over TLS only
        ({"TEMPORAL_TLS_SERVER_NAME": "temporal.internal"}, True),
        ({"TEMPORAL_API_KEY": "key-for-a-tls-sidecar", "TEMPORAL_TLS": "false"}, False),
    ],
)
def test_tls_is_on_when_asked_for_or_implied(environment, variables: dict[str, str], uses_tls: bool) -> None:
    assert environment(**variables).temporal_uses_tls is uses_tls


def test_the_temporal_api_key_stays_out_of_logs_and_reprs(environment) -> None:
    settings = environment(TEMPORAL_API_KEY="temporal-cloud-secret")
    assert "temporal-cloud-secret" not in repr(settings)
    assert settings.temporal_api_key.get_secret_value() == "temporal-cloud-secret"


@pytest.mark.parametrize(
    "variable", ["TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"]
)
def test_a_missing_tls_file_is_named_at_startup(environment, tmp_path: Path, variable: str) -> None:
    with pytest.raises(ValidationError) as refused:
        environment(**{variable: str(tmp_path / "nowhere.pem")})
    assert variable in str(refused.value)
    assert f"{tmp_path / 'nowhere.pem'}: no such file" in str(refused.value)


def test_a_directory_given_as_a_tls_file_is_named_at_startup(environment, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        environment(TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(tmp_path))
    assert f"{tmp_path} is a directory; give the path of the PEM file in it" in str(refused.value)


def test_a_tls_file_that_is_not_pem_is_named_at_startup(environment, tmp_path: Path) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(bytes([0x30, 0x82, 0x01, 0x0A]) + bytes(64))
    with pytest.raises(ValidationError) as refused:
        environment(TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(der))
    assert f"{der} is not a PEM file" in str(refused.value)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
        ("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    ],
)
def test_a_client_certificate_needs_its_key_and_the_other_way_round(
    environment, tmp_path: Path, given: str, missing: str
) -> None:
    pem = tmp_path / "half.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValidationError) as refused:
        environment(**{given: str(pem)})
    assert f"{given} is set but {missing} is not" in str(refused.value)


def test_tls_files_with_tls_turned_off_are_a_contradiction(environment, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValidationError) as refused:
        environment(TEMPORAL_TLS="false", TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca))
    assert "TEMPORAL_TLS is false, but TLS settings are given too (TEMPORAL_TLS_SERVER_CA_CERT_PATH)" in str(
        refused.value
    )


def test_the_short_names_of_the_client_certificate_work_too(environment, tmp_path: Path) -> None:
    pem = tmp_path / "half.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValidationError) as refused:
        environment(TEMPORAL_TLS_CERT=str(pem))
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not" in str(refused.value)


def test_the_openai_webhook_secret_is_the_projects_and_a_placeholder_is_refused(environment) -> None:
    secret = "whsec_" + "c2lwLWxpbmVzLW9mLXRoZS1jbG91ZGdyZWV0LXByb2plY3Q="
    assert environment(OPENAI_WEBHOOK_SECRET=secret).openai_webhook_secret.get_secret_value() == secret
    assert environment(OPENAI_WEBHOOK_SECRET="").openai_webhook_secret is None  # present, not filled in
    for value in ("not-a-webhook-secret-at-all-1234567890", "whsec_change-me-change-me-change-me"):
        with pytest.raises(ValidationError) as raised:
            environment(OPENAI_WEBHOOK_SECRET=value)
        assert "OPENAI_WEBHOOK_SECRET" in str(raised.value) and value not in str(raised.value)


def test_the_openai_project_id_builds_the_sip_uri_and_a_placeholder_is_refused(environment) -> None:
    settings = environment(OPENAI_PROJECT_ID="proj_4bC9dEf01GhIjKlMnOpQrStU")
    assert settings.realtime_sip_uri == "sip:proj_4bC9dEf01GhIjKlMnOpQrStU@sip.api.openai.com;transport=tls"
    assert environment(OPENAI_PROJECT_ID="").realtime_sip_uri is None  # present, not filled in: Telnyx speech
    for value in ("4bC9dEf01GhIjKlMnOpQrStU", "proj_", "proj_abc@sip.api.openai.com", "proj_changeme", "org-abc123"):
        with pytest.raises(ValidationError) as raised:
            environment(OPENAI_PROJECT_ID=value)
        assert "OPENAI_PROJECT_ID" in str(raised.value)
