#!/usr/bin/env python3
"""Tiny stdlib-only Kafka Metadata client for the test harness.

Starting a JVM to ask "is the cluster up?" costs seconds on a 2-core machine;
one Metadata request over a socket costs milliseconds.  Used by cluster.sh
(readiness) and compare.sh.

usage: kwire.py metadata HOST:PORT[,HOST:PORT...] [--timeout S]
       kwire.py brokers  HOST:PORT[,HOST:PORT...] [--timeout S]
brokers prints the live broker ids, and ids with racks: "1,2,3 1:rack-a,2:rack-b,3:rack-a"
metadata prints {"cluster_id":..., "controller_id":..., "brokers":[{"id","host","port","rack"}],
        "topics":[{"name","internal","error","partitions":[{"partition","leader",
        "replicas","isr","offline","error"}]}]}
exit 0 on success, 1 if no address answered.

Metadata v5 (non-flexible, still served by Kafka 4.x; KIP-896 dropped v0-v3).
"""
import json
import socket
import struct
import sys

API_METADATA = 3
VERSION = 5


class Reader:
    def __init__(self, buf):
        self.b, self.o = buf, 0

    def take(self, n):
        v = self.b[self.o:self.o + n]
        if len(v) != n:
            raise ValueError("short response")
        self.o += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def array(self, f):
        n = self.i32()
        return None if n < 0 else [f() for _ in range(n)]


def _recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("connection closed")
        out += chunk
    return out


def metadata(host, port, timeout=3.0):
    client = b"kwire"
    body = struct.pack(">hhih", API_METADATA, VERSION, 7, len(client)) + client
    body += struct.pack(">i", -1)  # topics: null = all
    body += struct.pack(">b", 0)  # allow_auto_topic_creation = false
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(body)) + body)
        n = struct.unpack(">i", _recv_exact(s, 4))[0]
        r = Reader(_recv_exact(s, n))
    if r.i32() != 7:
        raise ValueError("correlation id mismatch")
    r.i32()  # throttle_time_ms
    brokers = r.array(lambda: {"id": r.i32(), "host": r.string(), "port": r.i32(), "rack": r.string()})
    cluster_id = r.string()
    controller_id = r.i32()

    def partition():
        err = r.i16()
        p = {"partition": r.i32(), "leader": r.i32()}
        p["replicas"] = r.array(r.i32)
        p["isr"] = r.array(r.i32)
        p["offline"] = r.array(r.i32)
        p["error"] = err
        return p

    def topic():
        err = r.i16()
        name = r.string()
        internal = bool(r.i8())
        parts = r.array(partition)
        return {"name": name, "internal": internal, "error": err,
                "partitions": sorted(parts, key=lambda p: p["partition"])}

    topics = r.array(topic)
    return {"cluster_id": cluster_id, "controller_id": controller_id,
            "brokers": sorted(brokers, key=lambda b: b["id"]),
            "topics": sorted(topics, key=lambda t: t["name"])}


def metadata_any(bootstrap, timeout=3.0):
    last = None
    for addr in bootstrap.split(","):
        host, _, port = addr.strip().rpartition(":")
        try:
            return metadata(host, port, timeout)
        except (OSError, ValueError) as e:
            last = e
    raise ConnectionError(f"no broker of {bootstrap} answered: {last}")


def main(argv):
    if len(argv) < 2 or argv[0] not in ("metadata", "brokers"):
        print(__doc__, file=sys.stderr)
        return 2
    timeout = 3.0
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    try:
        md = metadata_any(argv[1], timeout)
    except ConnectionError as e:
        print(str(e), file=sys.stderr)
        return 1
    if argv[0] == "brokers":
        ids = ",".join(str(b["id"]) for b in md["brokers"])
        racks = ",".join(f"{b['id']}:{b['rack']}" for b in md["brokers"])
        print(ids, racks)
    else:
        json.dump(md, sys.stdout)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
