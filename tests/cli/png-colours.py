#!/usr/bin/env python3
"""Count the pixels of given colours in a PNG (8-bit RGB or RGBA, not
interlaced: what Chromium's --screenshot writes).  Prints "RRGGBB COUNT"
per colour asked for; exits 1 on a PNG it cannot read.  The test of the
HTML report uses it to see that the marks were really drawn."""
import struct
import sys
import zlib


def pixels(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = hdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unsupported PNG (depth %d, colour type %d)" % (depth, colour))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    out = []
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        out.append(bytes(line))
        prev = line
    return width, height, bpp, out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: png-colours.py FILE.png RRGGBB...")
    try:
        width, height, bpp, rows = pixels(sys.argv[1])
    except (OSError, ValueError, zlib.error, struct.error, TypeError) as e:
        print("png-colours: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)
    want = {bytes.fromhex(c): 0 for c in sys.argv[2:]}
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = row[x:x + 3]
            if px in want:
                want[px] += 1
    for c, n in want.items():
        print(c.hex().upper(), n)


main()
