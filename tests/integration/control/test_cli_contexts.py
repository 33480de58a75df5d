"""Named contexts in im.toml, against the real control service (child process, real Redis):
which token and tenant `im` uses (flags > environment > context > defaults), switching the
current context (the file written back, mode 0600, its comments kept), the older flat form,
and that a token is never printed nor sent to another address than its own."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from incident_sync.control.cli import main
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

# Every variable `im` reads, unset unless a test sets it.
IM_VARS = ("IM_API_URL", "IM_TOKEN", "IM_TENANT", "IM_CONTEXT", "IM_INGRESS_URL", "SYNC_API_TOKEN")


@dataclass
class Tokens:
    alpha: str
    beta: str


def run(config: Path, *args: str, **env: str) -> Result:
    values: dict[str, str | None] = dict.fromkeys(IM_VARS)
    values.update(env)
    values["IM_CONFIG"] = str(config)
    return CliRunner().invoke(main, list(args), env=values)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.fixture(scope="module")
def tokens(control: ControlService) -> Iterator[Tokens]:
    """Two tokens, each an integration.manager of its own tenant."""
    admin = {"IM_API_URL": control.url, "IM_TOKEN": control.admin}
    made = {}
    for name in ("alpha", "beta"):
        created = run(
            Path("/nonexistent"),
            "token",
            "create",
            "--name",
            f"ctx-{name}",
            "--role",
            "integration.manager",
            "--scope",
            f"tenant:ctx-{name}",
            "-o",
            "json",
            **admin,
        )
        made[name] = as_json(created)
        control.secrets.append(made[name]["token"])
    yield Tokens(made["alpha"]["token"], made["beta"]["token"])
    for m in made.values():
        run(Path("/nonexistent"), "token", "revoke", m["id"], **admin)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def config(tmp_path: Path, control: ControlService, tokens: Tokens) -> Path:
    return write(
        tmp_path / "im.toml",
        f"""# my contexts
current_context = "alpha"

[contexts.alpha]  # the first tenant
api_url = "{control.url}"
token = "{tokens.alpha}"
tenant = "ctx-alpha"

[contexts.beta]
api_url = "{control.url}/"
token = "{tokens.beta}"
tenant = "ctx-beta"
""",
    )


def whoami(config: Path, *args: str, **env: str) -> str:
    return str(as_json(run(config, *args, "whoami", "-o", "json", **env))["name"])


def test_the_current_context_then_flag_and_environment_choose(config: Path) -> None:
    assert whoami(config) == "ctx-alpha"  # current_context
    assert whoami(config, "--context", "beta") == "ctx-beta"
    assert whoami(config, IM_CONTEXT="beta") == "ctx-beta"
    assert whoami(config, "--context", "alpha", IM_CONTEXT="beta") == "ctx-alpha"  # flag wins


def test_flags_and_environment_win_over_the_context(
    config: Path, control: ControlService, tokens: Tokens
) -> None:
    assert whoami(config, IM_TOKEN=tokens.beta) == "ctx-beta"
    assert whoami(config, "--token", tokens.alpha, IM_TOKEN=tokens.beta) == "ctx-alpha"
    # The tenant: the context's (ctx-alpha, which alpha's token may manage) ...
    assert run(config, "integration", "list", "-o", "json").exit_code == 0
    # ... unless the environment or a flag names another (refused by the policy: exit 4).
    assert run(config, "integration", "list", IM_TENANT="ctx-beta").exit_code == 4
    refused = run(config, "--tenant", "ctx-beta", "integration", "list", IM_TENANT="ctx-alpha")
    assert refused.exit_code == 4
    assert run(config, "--tenant", "ctx-alpha", "integration", "list").exit_code == 0


def test_use_context_writes_the_file_owner_only_and_keeps_its_comments(config: Path) -> None:
    config.chmod(0o644)
    done = run(config, "config", "use-context", "beta")
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    assert 'current_context = "beta"' in text
    assert "# my contexts" in text and "# the first tenant" in text
    assert whoami(config) == "ctx-beta"
    assert run(config, "config", "current-context").stdout.strip() == "beta"
    # An unknown name: exit 3, the file as it was.
    before = config.read_text()
    missing = run(config, "config", "use-context", "gamma")
    assert missing.exit_code == 3
    assert "gamma" in missing.stderr and "alpha, beta" in missing.stderr
    assert config.read_text() == before


def test_get_contexts_shows_whether_a_token_is_set_never_its_value(
    config: Path, tokens: Tokens, tmp_path: Path
) -> None:
    listed = as_json(run(config, "config", "get-contexts", "-o", "json"))
    assert [(c["name"], c["current"], c["token"], c["tenant"]) for c in listed] == [
        ("alpha", True, "set", "ctx-alpha"),
        ("beta", False, "set", "ctx-beta"),
    ]
    by_flag = as_json(run(config, "--context", "beta", "config", "get-contexts", "-o", "json"))
    assert [c["name"] for c in by_flag if c["current"]] == ["beta"]
    for fmt in ("table", "json", "yaml"):
        out = run(config, "config", "get-contexts", "-o", fmt)
        assert out.exit_code == 0, out.output
        assert tokens.alpha not in out.output and tokens.beta not in out.output
        assert "alpha" in out.stdout
    tokenless = write(tmp_path / "bare.toml", '[contexts.x]\napi_url = "http://a"\n')
    (only,) = as_json(run(tokenless, "config", "get-contexts", "-o", "json"))
    assert only["token"] == "unset" and only["current"] is False


def test_the_flat_form_keeps_working(
    tmp_path: Path, control: ControlService, tokens: Tokens
) -> None:
    flat = write(
        tmp_path / "flat.toml",
        f'api_url = "{control.url}"\ntoken = "{tokens.alpha}"\ntenant = "ctx-alpha"\n',
    )
    assert whoami(flat) == "ctx-alpha"
    assert run(flat, "integration", "list").exit_code == 0
    # A context in use leaves the flat keys out (its own token or none, never theirs).
    both = write(
        tmp_path / "both.toml",
        f'api_url = "{control.url}"\ntoken = "{tokens.alpha}"\n'
        f'[contexts.bare]\napi_url = "{control.url}"\n',
    )
    assert whoami(both) == "ctx-alpha"  # no context chosen: the flat keys
    assert run(both, "--context", "bare", "whoami").exit_code == 4  # no token sent


def test_a_stored_token_is_not_sent_to_another_address(
    config: Path, control: ControlService, tokens: Tokens
) -> None:
    """The same server under another name: the context's token stays home (401, exit 4)."""
    other = control.url.replace("127.0.0.1", "localhost")
    moved = run(config, "--api-url", other, "whoami", IM_TENANT="x")
    assert moved.exit_code == 4, moved.output
    assert f"is for {control.url}, not {other}: not sent" in moved.stderr
    assert tokens.alpha not in moved.output
    assert run(config, "whoami", IM_API_URL=other).exit_code == 4
    # Given for that address, it is used.
    assert whoami(config, "--api-url", other, IM_TOKEN=tokens.alpha) == "ctx-alpha"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('current_context = "nope"\n[contexts.a]\napi_url = "http://a"\n', "'nope' is not in"),
        ('[contexts.a]\napi_ulr = "http://a"\n', "unknown key 'api_ulr'"),
        ('tokne = "secret-value"\n', "unknown key 'tokne'"),
        ("[contexts.a]\ntoken = 5\n", "contexts.a.token must be a string"),
        ("api_url = \n", "cannot read the config file"),
    ],
)
def test_a_file_im_cannot_read_is_refused_naming_why(tmp_path: Path, text: str, said: str) -> None:
    bad = write(tmp_path / "bad.toml", text)
    out = run(bad, "whoami")
    assert out.exit_code == 2, out.output
    assert said in out.stderr
    assert "secret-value" not in out.output
    assert run(bad, "--context", "missing", "whoami").exit_code == 2


def test_commands_that_connect_nowhere_read_no_file(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "not toml at all = = =\n")
    done = run(bad, "completion", "bash")
    assert done.exit_code == 0, done.output
    assert "_im_completion" in done.stdout


def test_set_context_from_nothing_then_whoami(
    tmp_path: Path, control: ControlService, tokens: Tokens
) -> None:
    path = tmp_path / "new" / "im.toml"  # no file, no directory yet
    made = run(path, "config", "set-context", "ci", "--api-url", control.url + "/")
    assert made.exit_code == 0, made.output
    assert run(path, "--context", "ci", "whoami").exit_code == 4  # no token yet
    given = CliRunner().invoke(
        main,
        ["config", "set-context", "ci", "--tenant", "ctx-alpha", "--token-stdin", "--use"],
        env={**dict.fromkeys(IM_VARS), "IM_CONFIG": str(path)},
        input=tokens.alpha + "\n",
    )
    assert given.exit_code == 0, given.output
    assert tokens.alpha not in given.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert whoami(path) == "ctx-alpha"
    assert run(path, "integration", "list").exit_code == 0  # the context's tenant


def test_set_context_keeps_a_token_with_its_address(
    config: Path, control: ControlService, tokens: Tokens
) -> None:
    before = config.read_text()
    moved = run(config, "config", "set-context", "alpha", "--api-url", "http://elsewhere:1")
    assert moved.exit_code == 5, moved.output
    assert "keeps a token stored for its api_url" in moved.stderr
    assert config.read_text() == before
    # The same address (a trailing slash aside) is no move; --unset token lets it go.
    same = run(config, "config", "set-context", "beta", "--api-url", control.url)
    assert same.exit_code == 0, same.output
    dropped = run(
        config,
        "config",
        "set-context",
        "alpha",
        "--api-url",
        "http://elsewhere:1",
        "--unset",
        "token",
    )
    assert dropped.exit_code == 0, dropped.output
    assert tokens.alpha not in config.read_text()
    assert "# my contexts" in config.read_text()


def test_delete_context(config: Path) -> None:
    assert run(config, "config", "delete-context", "alpha").exit_code == 0
    assert [c["name"] for c in as_json(run(config, "config", "get-contexts", "-o", "json"))] == [
        "beta"
    ]
    assert "current_context" not in config.read_text()  # it was alpha
    assert run(config, "config", "delete-context", "alpha").exit_code == 3
