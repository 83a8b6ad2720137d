#!/usr/bin/env python3
"""Send raw bytes to a unix socket and print the reply line (tests only).

usage: ctl-send.py SOCKET (--json TEXT | --big N | --lines TEXT... | --hangup N)
Prints each reply line; exit 3 when the connection could not be made.
--hangup N sends N status requests and closes without reading a reply."""
import socket
import sys

path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as e:
    print(f"connect: {e.strerror}", file=sys.stderr)
    sys.exit(3)
if mode == "--hangup":
    s.sendall(b'{"cmd":"status"}\n' * int(sys.argv[3]))
    s.close()
    sys.exit(0)
if mode == "--big":
    data = b'{"cmd":"status","x":"' + b"a" * int(sys.argv[3]) + b'"}\n'
elif mode == "--lines":
    data = "".join(a + "\n" for a in sys.argv[3:]).encode()
else:
    data = sys.argv[3].encode() + b"\n"
try:
    s.sendall(data)
except OSError:
    pass  # the daemon may close early (over the limit): read what it said
buf = b""
want = len(sys.argv) - 3 if mode == "--lines" else 1
while buf.count(b"\n") < want:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.decode(errors="replace"))
# After an error that closes the connection, the daemon must have closed it.
s.settimeout(5)
try:
    rest = s.recv(1)
    print("closed" if rest == b"" else "open")
except ConnectionResetError:
    print("closed")  # closed with our unread bytes in its buffer
except (socket.timeout, OSError):
    print("open")
