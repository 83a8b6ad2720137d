# bash completion for virtsnap: commands, each command's options (read from
# its own --help, so they never drift), policy names (from the policy file:
# -c FILE on the line, else the default) and domain names (from the history).
# shellcheck shell=bash

_virtsnap_config_args() {
        # -c/--config and --database given so far, to ask the same files.
        local i
        for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
                case ${COMP_WORDS[i]} in
                -c | --config | --database) printf '%s\n%s\n' "${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}" ;;
                esac
        done
}

_virtsnap_policies() {
        local -a args
        mapfile -t args < <(_virtsnap_config_args | grep -A1 -x -e -c -e --config)
        # `check` prints "  NAME: schedule ..." or "  NAME (disabled): ...".
        virtsnap check "${args[@]}" 2>/dev/null | sed -n 's/^  \([A-Za-z0-9._-]*\)\( (disabled)\)\{0,1\}: .*/\1/p'
}

_virtsnap_domains() {
        local -a args
        mapfile -t args < <(_virtsnap_config_args)
        virtsnap status "${args[@]}" --format csv 2>/dev/null | awk -F, 'NR > 1 && $2 !~ /^"/ { print $2 }' | sort -u
}

_virtsnap_snapshots() {
        local -a args
        mapfile -t args < <(_virtsnap_config_args)
        # history's csv: ...,snapshot,...,state,...: the present ones of DOMAIN.
        virtsnap history "${args[@]}" --domain "$1" --state present --format csv 2>/dev/null |
                awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { print $col["snapshot"] }'
}

_virtsnap() {
        local cur prev cmd i
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        cmd=
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                -*) ;;
                *) cmd=${COMP_WORDS[i]}; break ;;
                esac
        done
        if [ -z "$cmd" ]; then
                mapfile -t COMPREPLY < <(compgen -W "$(virtsnap --help 2>/dev/null | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')" -- "$cur")
                return
        fi
        case $prev in
        -c | --config | --database)
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return ;;
        -p | --policy)
                mapfile -t COMPREPLY < <(compgen -W "$(_virtsnap_policies)" -- "$cur")
                return ;;
        -d | --domain)
                mapfile -t COMPREPLY < <(compgen -W "$(_virtsnap_domains)" -- "$cur")
                return ;;
        esac
        if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(virtsnap "$cmd" --help 2>/dev/null | grep -o -e '--[a-z][a-z-]*' | sort -u)" -- "$cur")
                return
        fi
        case $cmd in
        snapshot | snapshots | pin | unpin)
                mapfile -t COMPREPLY < <(compgen -W "$(_virtsnap_domains)" -- "$cur") ;;
        revert)
                # DOMAIN, then one of its snapshots the history holds.
                local -a words=()
                for ((i = i + 1; i < COMP_CWORD; i++)); do
                        case ${COMP_WORDS[i]} in
                        -p | --policy | -c | --config | --database | --connect | --log-level | --safety-ttl) ((i++)) ;;
                        -*) ;;
                        *) words+=("${COMP_WORDS[i]}") ;;
                        esac
                done
                if [ ${#words[@]} -eq 0 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_virtsnap_domains)" -- "$cur")
                elif [ ${#words[@]} -eq 1 ]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_virtsnap_snapshots "${words[0]}")" -- "$cur")
                fi ;;
        esac
}
complete -F _virtsnap virtsnap
