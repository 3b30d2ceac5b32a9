# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify completion bash|zsh`: a shell completion script, written from the
command line's own parser (subcommands and their options), the config ids, the scheme
presets and the invariant ids; spec paths complete as folders and `*.toml` files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Options whose value is a file or folder (completed by the shell's file completion).
PATH_OPTIONS = ("--save-traces", "--records", "--save-records", "--spec", "--specs-dir")


def bash_script(
    commands: Mapping[str, Sequence[str]], values: Mapping[str, Sequence[str]], prog: str = "hvo-verify"
) -> str:
    """The bash script: `commands` maps each subcommand to its options, `values` maps an
    option (`--config`) to the words it takes."""
    func = "_" + prog.replace("-", "_")
    cases = "\n".join(f'        {name}) opts="{" ".join(opts)}" ;;' for name, opts in commands.items())
    value_cases = "\n".join(f'        {opt}) words="{" ".join(words)}" ;;' for opt, words in values.items())
    paths = "|".join(PATH_OPTIONS)
    return f"""# {prog} completion for bash: eval "$({prog} completion bash)"
{func}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" words="" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(commands)} --help --version" -- "$cur"))
        return
    fi
    case "$prev" in
        {paths}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
{value_cases}
    esac
    if [ -n "$words" ]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    case "${{COMP_WORDS[1]}}" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.toml' -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
}}
complete -o filenames -F {func} {prog}
"""


def zsh_script(commands: Mapping[str, Sequence[str]], values: Mapping[str, Sequence[str]]) -> str:
    """The zsh script: the bash one, through zsh's bashcompinit."""
    return (
        '# hvo-verify completion for zsh: eval "$(hvo-verify completion zsh)"\n'
        "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(commands, values)
    )
