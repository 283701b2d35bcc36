#!/usr/bin/env python3
"""A minimal PCP (RFC 6887) MAP client for the test bed: one IPv4 MAP request, one answer.

Debian ships no PCP client, so tests/testbed/verify.sh uses this (python3 stdlib only). It must
run inside the LAN namespace (it sends to the router's PCP port); it refuses to run in the
machine's own network namespace (tests/lib/netns-guard.sh).

    pcp-client.py --server 10.77.0.1 --client 10.77.0.2 --protocol tcp \\
        --internal-port 7779 [--external-port 7779] --lifetime 600 --nonce 000102030405060708090a0b

Prints one line and exits 0 when an answer came (whatever its result code), 1 otherwise:

    result=<n> name=<RFC 6887 name> lifetime=<s> epoch=<n> protocol=<n> internal_port=<p>
        external=<ip>:<port> nonce_ok=<True|False> rtt_ms=<ms>

The request has the shape of the fixtures in tests/data/miniupnpd/pcp/ (client address and
suggested external address as IPv4-mapped IPv6, suggested external address 0.0.0.0).
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import time

PCP_PORT = 5351
VERSION = 2
OPCODE_MAP = 1
RESPONSE_BIT = 0x80
REQUEST_LEN = 60  # 24-byte common header + 36-byte MAP opcode
PROTOCOLS = {"tcp": 6, "udp": 17}

# RFC 6887 section 7.4.
RESULT_NAMES = {
    0: "SUCCESS",
    1: "UNSUPP_VERSION",
    2: "NOT_AUTHORIZED",
    3: "MALFORMED_REQUEST",
    4: "UNSUPP_OPCODE",
    5: "UNSUPP_OPTION",
    6: "MALFORMED_OPTION",
    7: "NETWORK_FAILURE",
    8: "NO_RESOURCES",
    9: "UNSUPP_PROTOCOL",
    10: "USER_EX_QUOTA",
    11: "CANNOT_PROVIDE_EXTERNAL",
    12: "ADDRESS_MISMATCH",
    13: "EXCESSIVE_REMOTE_PEERS",
}


def mapped(ipv4):
    """The 16-byte IPv4-mapped IPv6 form (::ffff:a.b.c.d) of an IPv4 address."""
    return b"\x00" * 10 + b"\xff\xff" + socket.inet_aton(ipv4)


def unmapped(raw16):
    """The IPv4 text of an IPv4-mapped address, or the IPv6 text otherwise."""
    if raw16[:12] == b"\x00" * 10 + b"\xff\xff":
        return socket.inet_ntoa(raw16[12:])
    return socket.inet_ntop(socket.AF_INET6, raw16)


def build_map(client, lifetime, nonce, protocol, internal_port, external_port, external_ip):
    """A MAP request (RFC 6887 sections 7.1 and 11.1)."""
    header = struct.pack("!BBHI16s", VERSION, OPCODE_MAP, 0, lifetime, mapped(client))
    body = struct.pack("!12sB3sHH16s", nonce, protocol, b"\x00" * 3, internal_port, external_port, mapped(external_ip))
    request = header + body
    assert len(request) == REQUEST_LEN
    return request


def parse_map_answer(data):
    """The fields of a MAP answer, or raises ValueError."""
    if len(data) < REQUEST_LEN:
        raise ValueError("answer of %d bytes, a MAP answer has at least %d" % (len(data), REQUEST_LEN))
    version, opcode, _, result, lifetime, epoch = struct.unpack("!BBBBII", data[:12])
    if version != VERSION or opcode != RESPONSE_BIT | OPCODE_MAP:
        raise ValueError("not a PCP v2 MAP answer: version %d opcode 0x%02x" % (version, opcode))
    nonce, protocol, _, internal_port, external_port, external_ip = struct.unpack("!12sB3sHH16s", data[24:60])
    return {
        "result": result,
        "lifetime": lifetime,
        "epoch": epoch,
        "nonce": nonce,
        "protocol": protocol,
        "internal_port": internal_port,
        "external_port": external_port,
        "external_ip": unmapped(external_ip),
    }


def require_netns():
    """Exits 2 unless tests/lib/netns-guard.sh says this is not the root network namespace."""
    guard = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "netns-guard.sh")
    if subprocess.run(["bash", guard], stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True, help="the PCP server (router LAN address)")
    parser.add_argument("--client", required=True, help="our LAN address (source and PCP client IP)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="tcp")
    parser.add_argument("--internal-port", type=int, required=True)
    parser.add_argument("--external-port", type=int, help="suggested external port (default: internal port)")
    parser.add_argument("--external-ip", default="0.0.0.0", help="suggested external address")
    parser.add_argument("--lifetime", type=int, required=True, help="requested lifetime; 0 deletes")
    parser.add_argument("--nonce", required=True, help="mapping nonce, 24 hex digits")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    args = parser.parse_args()
    require_netns()

    nonce = bytes.fromhex(args.nonce)
    if len(nonce) != 12:
        parser.error("--nonce must be 12 bytes (24 hex digits)")
    external_port = args.internal_port if args.external_port is None else args.external_port
    request = build_map(args.client, args.lifetime, nonce, PROTOCOLS[args.protocol], args.internal_port,
                        external_port, args.external_ip)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.client, 0))
    sock.settimeout(args.timeout)
    start = time.monotonic()
    # One request, no retransmission: a MAP outside miniupnpd's allow rule keeps the
    # single-threaded daemon busy for about a second, and repeats would queue behind it.
    sock.sendto(request, (args.server, PCP_PORT))
    deadline = start + args.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("noanswer after %.0f ms" % (args.timeout * 1000))
            return 1
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(1100)
        except socket.timeout:
            continue
        if peer != (args.server, PCP_PORT):
            continue
        rtt_ms = (time.monotonic() - start) * 1000
        try:
            answer = parse_map_answer(data)
        except ValueError as error:
            print("badanswer %s: %s" % (error, data.hex()))
            return 1
        print("result=%d name=%s lifetime=%d epoch=%d protocol=%d internal_port=%d external=%s:%d nonce_ok=%s rtt_ms=%.1f"
              % (answer["result"], RESULT_NAMES.get(answer["result"], "UNKNOWN"), answer["lifetime"], answer["epoch"],
                 answer["protocol"], answer["internal_port"], answer["external_ip"], answer["external_port"],
                 answer["nonce"] == nonce, rtt_ms))
        return 0


if __name__ == "__main__":
    sys.exit(main())
