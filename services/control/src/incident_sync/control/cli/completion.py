"""`im completion bash|zsh|fish`: the shell completion script, from click's own machinery
(the same script `_IM_COMPLETE=<shell>_source im` prints).

    eval "$(im completion bash)"                              # ~/.bashrc
    eval "$(im completion zsh)"                               # ~/.zshrc
    im completion fish > ~/.config/fish/completions/im.fish
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
PROG = "im"
COMPLETE_VAR = "_IM_COMPLETE"  # click's: _<PROG>_COMPLETE


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(im completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(im completion zsh)"    (in ~/.zshrc)
    fish:  im completion fish > ~/.config/fish/completions/im.fish
    """
    cls = get_completion_class(shell)
    if cls is None:  # click ships all three
        raise click.UsageError(f"no completion for {shell}")
    root = ctx.find_root().command
    click.echo(cls(root, {}, PROG, COMPLETE_VAR).source())
