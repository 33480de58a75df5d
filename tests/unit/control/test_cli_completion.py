"""`im completion bash|zsh|fish`: click's completion scripts, sourced in a real bash, zsh and
fish (scripts/bootstrap.sh installs the two), and the completions they ask `im` for through
click's protocol (`_IM_COMPLETE`, COMP_WORDS, COMP_CWORD), with the real `im` as a
subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IM = Path(sys.executable).parent / "im"
BASH = shutil.which("bash")  # the project's scripts are bash: it is on every machine
ZSH, FISH = shutil.which("zsh"), shutil.which("fish")


def env(**extra: str) -> dict[str, str]:
    # PATH: the bash function calls `im` by name. IM_CONFIG: completing reads no config.
    path = f"{IM.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "IM_CONFIG": "/nonexistent", **extra}


def im(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [str(IM), *args], env=env(**extra), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_is_clicks_own(shell: str) -> None:
    printed = im("completion", shell)
    assert printed.returncode == 0, printed.stderr
    sourced = im(**{"_IM_COMPLETE": f"{shell}_source"})
    assert printed.stdout == sourced.stdout
    assert "_IM_COMPLETE=" in printed.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = im("completion", "tcsh")
    assert done.returncode == 2
    assert "'tcsh' is not one of" in done.stderr


def test_the_completion_protocol_completes_commands() -> None:
    done = im(COMP_WORDS="im integ", COMP_CWORD="1", _IM_COMPLETE="bash_complete")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,integration"]
    nested = im(COMP_WORDS="im config use", COMP_CWORD="2", _IM_COMPLETE="bash_complete")
    assert nested.stdout.split() == ["plain,use-context"]


def test_sourced_in_bash_it_defines_the_function_and_completes_im_integ() -> None:
    script = """
    source <(im completion bash)
    declare -F _im_completion >/dev/null || { echo "no function"; exit 1; }
    complete -p im
    COMP_WORDS=(im integ); COMP_CWORD=1
    _im_completion im
    printf 'reply:%s\\n' "${COMPREPLY[@]}"
    """
    assert BASH is not None, "bash is needed (scripts/bootstrap.sh is bash too)"
    done = subprocess.run(  # noqa: S603 - bash with our script
        [BASH, "-c", script], env=env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "complete -o nosort -F _im_completion im" in lines
    assert "reply:integration" in lines


def test_use_context_completes_the_files_context_names(tmp_path: Path) -> None:
    config = tmp_path / "im.toml"
    config.write_text('[contexts.prod]\napi_url = "http://a"\n[contexts.staging]\n')
    done = im(
        COMP_WORDS="im config use-context ",
        COMP_CWORD="3",
        _IM_COMPLETE="bash_complete",
        IM_CONFIG=str(config),
    )
    assert done.stdout.split() == ["plain,prod", "plain,staging"]
    flag = im(
        COMP_WORDS="im --context st",
        COMP_CWORD="2",
        _IM_COMPLETE="bash_complete",
        IM_CONFIG=str(config),
    )
    assert flag.stdout.split() == ["plain,staging"]


def run_shell(shell: str | None, *args: str) -> list[str]:
    assert shell is not None, "zsh and fish are installed by scripts/bootstrap.sh"
    done = subprocess.run(  # noqa: S603 - a shell with our script
        [shell, *args], env=env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_sourced_in_zsh_it_registers_the_function_and_completes_im_integ() -> None:
    # Outside a completion widget zsh's own _describe and compadd do nothing: stand-ins print
    # what the function hands them (the array named by its third and fifth arguments).
    script = """
    autoload -U compinit; compinit -u
    source <(im completion zsh)
    whence -w _im_completion
    print -r -- "compdef:${_comps[im]}"
    _describe() { print -rl -- "described:${(@P)3}" }
    compadd() { print -rl -- "added:${(@P)5}" }
    words=(im integ); CURRENT=2
    _im_completion
    """
    lines = run_shell(ZSH, "-c", script)
    assert "_im_completion: function" in lines
    assert "compdef:_im_completion" in lines
    assert any(line.startswith("described:integration:") for line in lines), lines


def test_sourced_in_fish_it_completes_im_integ() -> None:
    lines = run_shell(FISH, "-c", 'im completion fish | source; complete -C"im integ"')
    assert [line.split("\t")[0] for line in lines] == ["integration"], lines


def test_the_fields_commands_complete() -> None:
    done = im(COMP_WORDS="im integration fie", COMP_CWORD="2", _IM_COMPLETE="bash_complete")
    assert done.returncode == 0, done.stderr
    assert "plain,fields" in done.stdout.split()  # beside field-ownership
    group = im(COMP_WORDS="im plat", COMP_CWORD="1", _IM_COMPLETE="bash_complete")
    assert group.stdout.split() == ["plain,platform"]
    command = im(COMP_WORDS="im platform f", COMP_CWORD="2", _IM_COMPLETE="bash_complete")
    assert command.stdout.split() == ["plain,fields"]


def test_the_completion_protocol_completes_incident_timeline() -> None:
    done = im(COMP_WORDS="im incident time", COMP_CWORD="2", _IM_COMPLETE="bash_complete")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,timeline"]


def test_link_auto_and_its_options_complete() -> None:
    words = "im integration link prod-snow --au"
    done = im(COMP_WORDS=words, COMP_CWORD="4", _IM_COMPLETE="bash_complete")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,--auto"]
    words = "im integration link prod-snow --auto --by "
    by = im(COMP_WORDS=words, COMP_CWORD="6", _IM_COMPLETE="bash_complete")
    assert by.stdout.split() == ["plain,correlation", "plain,reference", "plain,title"]
