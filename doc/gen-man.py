#!/usr/bin/env python3
"""Generate virtsnap's man pages from the sources of truth, so they cannot
drift from the program:

  gen-man.py 8 VIRTSNAP VERSION OUT   virtsnap(8): every command of
                                      `virtsnap --help`, each with its own
                                      `--help` text, plus the sections below
  gen-man.py 5 EXAMPLE VERSION OUT    virtsnap.yaml(5): the rules block and the
                                      example of policies.example.yaml (the
                                      reference that tests/cli/test-docs.sh
                                      checks against the loader's key table)
"""
import subprocess
import sys


def esc(line):
    """One line of text as roff: backslashes doubled, a leading '.' or "'"
    protected, dashes in options kept as minus signs."""
    line = line.replace('\\', '\\e').replace('-', '\\-')
    if line.startswith('.') or line.startswith("'"):
        line = '\\&' + line
    return line


def block(text):
    out = ['.PP', '.nf', '.RS 4']
    out += [esc(l) for l in text.rstrip('\n').split('\n')]
    out += ['.RE', '.fi']
    return out


def run(exe, *args):
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def page8(exe, version):
    top = run(exe, '--help')
    cmds = []
    in_cmds = False
    for l in top.split('\n'):
        if l.startswith('commands:'):
            in_cmds = True
            continue
        if in_cmds:
            if not l.startswith('  '):
                break
            name, _, what = l.strip().partition(' ')
            cmds.append((name, what.strip()))
    out = [
        '.TH VIRTSNAP 8 "" "virtsnap %s" "System Administration"' % version,
        '.SH NAME',
        'virtsnap \\- scheduled snapshots of libvirt domains, recorded and pruned',
        '.SH SYNOPSIS',
        '.B virtsnap',
        '.I COMMAND',
        '[\\fIOPTIONS\\fR]',
        '.SH DESCRIPTION',
        'virtsnap takes snapshots of libvirt domains on the schedules of a policy file',
        '(see \\fBvirtsnap.yaml\\fR(5)), records every attempt, prune and deletion in an',
        'SQLite history, and prunes by each policy\'s retention.  It deletes only',
        'snapshots it made itself (they carry its ownership marker).  \\fBvirtsnap',
        'daemon\\fR runs the schedules; the other commands validate, preview, act once',
        'or read the audit trail.',
        '.SH COMMANDS',
        'Each command below is shown with its own \\fB\\-\\-help\\fR text.',
    ]
    for name, what in cmds:
        out += ['.SS %s' % esc(name), esc(what) + '.']
        out += block(run(exe, name, '--help'))
    out += [
        '.SH EXIT STATUS',
        '0 success, 1 failure, 2 usage error; \\fBmonitor\\fR uses the Nagios codes',
        '(0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).  \\fBsnapshot\\fR and \\fBrun \\-\\-once\\fR',
        'also exit 1 when a hook failed or a prune left a snapshot libvirt cannot',
        'delete.',
        '.SH SIGNALS',
        'For \\fBvirtsnap daemon\\fR: \\fBSIGTERM\\fR and \\fBSIGINT\\fR stop it (nothing new',
        'starts, queued jobs are recorded as cancelled, running ones get a grace',
        'period); \\fBSIGHUP\\fR re\\-reads the policy file (an invalid one is logged and',
        'ignored) and reconciles every connection again.',
        '.SH ENVIRONMENT',
        '.TP',
        '.B VIRTSNAP_NOW',
        'a TIME that replaces the clock of the reading commands (for tests and audits).',
        '.TP',
        '.B JOURNAL_STREAM',
        'set by systemd: log lines get syslog priority prefixes.',
        '.PP',
        'Hooks run with \\fBVIRTSNAP_DOMAIN\\fR, \\fBVIRTSNAP_POLICY\\fR,',
        '\\fBVIRTSNAP_SNAPSHOT\\fR, \\fBVIRTSNAP_PHASE\\fR, \\fBVIRTSNAP_RESULT\\fR and',
        '\\fBVIRTSNAP_ERROR\\fR in their environment.',
        '.SH FILES',
        '.TP',
        '.I /etc/virtsnap/policies.yaml',
        'the policy file, unless \\fB\\-c\\fR gives another.',
        '.TP',
        '.I /var/lib/virtsnap/history.db',
        'the history (SQLite, WAL mode), unless the policy file\'s \\fBdatabase:\\fR or',
        '\\fB\\-\\-database\\fR says otherwise; a lock file beside it keeps one daemon per',
        'database.',
        '.TP',
        '.I virtsnap.service, virtsnap\\-once.service, virtsnap\\-once.timer',
        'the systemd units.',
        '.SH SEE ALSO',
        '.BR virtsnap.yaml (5),',
        '.BR virsh (1),',
        '.BR libvirtd (8)',
    ]
    return out


def page5(example, version):
    text = open(example, encoding='utf-8').read().split('\n')
    rules, sample, where = [], [], None
    for l in text:
        if '-- the rules' in l:
            where = rules
            continue
        if '-- the example' in l:
            where = sample
            continue
        if where is rules:
            where.append(l[2:] if l.startswith('# ') else l.lstrip('#'))
        elif where is sample:
            where.append(l)
    out = [
        '.TH VIRTSNAP.YAML 5 "" "virtsnap %s" "File Formats"' % version,
        '.SH NAME',
        'virtsnap.yaml \\- the policy file of virtsnap',
        '.SH DESCRIPTION',
        'A YAML file (\\fI/etc/virtsnap/policies.yaml\\fR by default) of policies: which',
        'domains, when, what kind of snapshot, and how many to keep.  \\fBvirtsnap',
        'check\\fR validates it and prints every problem as FILE:LINE:COLUMN.  Every',
        'key, its type, range and default:',
    ]
    out += block('\n'.join(rules))
    out += ['.SH EXAMPLE']
    out += block('\n'.join(sample))
    out += ['.SH SEE ALSO', '.BR virtsnap (8)']
    return out


def main():
    section, src, version, dest = sys.argv[1:5]
    lines = page8(src, version) if section == '8' else page5(src, version)
    with open(dest, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
