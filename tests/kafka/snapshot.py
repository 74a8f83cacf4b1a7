#!/usr/bin/env python3
"""Cluster snapshot (kafka-migrate format, version 1) of a real Kafka cluster.

Built the way an operator without kafka-migrate would: from Kafka's own tools,
run through the harness (tests/kafka/cluster.sh tool ...):
  - partitions, replicas, ISR, leader  <- kafka-topics --describe
  - size_bytes                         <- kafka-log-dirs --describe
                                          (max size over the partition's replicas)
  - brokers: id, host, port, rack      <- Metadata request (kwire.py) for live brokers,
                                          plus the harness's generated broker configs
                                          for brokers that are down (alive=false)
See shared FIELD-GUIDE.md §1 "Cluster snapshot, version 1". Standard library only.

usage: snapshot.py [--bootstrap HOST:PORT,...] [--harness tests/kafka/cluster.sh]
                   [--config-dir target/kafka/cluster/config] [--topics a,b]
                   [--exclude-internal] [-o snapshot.json]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import kwire  # noqa: E402


def run_tool(harness, *args):
    r = subprocess.run([harness, "tool", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"snapshot.py: {' '.join(args[:1])} failed (exit {r.returncode})")
    return r.stdout


def parse_ids(s):
    s = s.strip()
    return [int(x) for x in s.split(",") if x.strip()] if s else []


def parse_topics_describe(text):
    """kafka-topics --describe: one header line per topic, then one line per
    partition of tab-separated 'Key: value' fields."""
    topics = {}
    for line in text.splitlines():
        fields = {}
        for f in line.strip().split("\t"):
            k, sep, v = f.partition(": ")
            if not sep:
                k, sep, v = f.partition(":")
            if sep:
                fields[k.strip()] = v.strip()
        if "Partition" not in fields or "Topic" not in fields:
            continue
        leader = fields.get("Leader", "none")
        p = {
            "partition": int(fields["Partition"]),
            "replicas": parse_ids(fields.get("Replicas", "")),
            "isr": parse_ids(fields.get("Isr", "")),
            "leader": int(leader) if re.fullmatch(r"-?\d+", leader) and int(leader) >= 0 else None,
        }
        # during a move kafka-topics adds these; keep them as extra fields
        if fields.get("Adding Replicas"):
            p["adding"] = parse_ids(fields["Adding Replicas"])
        if fields.get("Removing Replicas"):
            p["removing"] = parse_ids(fields["Removing Replicas"])
        topics.setdefault(fields["Topic"], []).append(p)
    return topics


def parse_log_dirs(text):
    """kafka-log-dirs --describe prints two lines of prose, then the JSON."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("snapshot.py: no JSON in kafka-log-dirs output")


def sizes_by_partition(log_dirs):
    """(topic, partition) -> {broker: size}, current (non-future) replicas only."""
    out = {}
    for b in log_dirs.get("brokers", []):
        for d in b.get("logDirs", []):
            if d.get("error"):
                continue
            for p in d.get("partitions", []):
                if p.get("isFuture"):
                    continue
                topic, _, part = p["partition"].rpartition("-")
                key = (topic, int(part))
                per = out.setdefault(key, {})
                per[b["broker"]] = max(per.get(b["broker"], 0), int(p["size"]))
    return out


def configured_brokers(config_dir):
    """Brokers from the harness's generated server properties (racks, ports)."""
    out = {}
    for path in glob.glob(os.path.join(config_dir, "*.properties")):
        props = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    props[k.strip()] = v.strip()
        if "broker" not in props.get("process.roles", "").split(","):
            continue
        bid = int(props["node.id"])
        host, port = "127.0.0.1", None
        m = re.search(r"PLAINTEXT://([^:,]*):(\d+)", props.get("advertised.listeners", props.get("listeners", "")))
        if m:
            host, port = m.group(1) or host, int(m.group(2))
        out[bid] = {"id": bid, "rack": props.get("broker.rack"), "host": host, "port": port}
    return out


def build(bootstrap, harness, config_dir, topics_filter=None, exclude_internal=False):
    md = kwire.metadata_any(bootstrap)
    brokers = {}
    for bid, b in configured_brokers(config_dir).items():
        brokers[bid] = dict(b, alive=False)
    for b in md["brokers"]:
        brokers[b["id"]] = {"id": b["id"], "rack": b["rack"], "host": b["host"], "port": b["port"], "alive": True}

    args = ["kafka-topics", "--bootstrap-server", bootstrap, "--describe"]
    if exclude_internal:
        args.append("--exclude-internal")
    described = parse_topics_describe(run_tool(harness, *args))
    if topics_filter:
        missing = set(topics_filter) - set(described)
        if missing:
            raise SystemExit(f"snapshot.py: unknown topics: {sorted(missing)}")
        described = {t: described[t] for t in topics_filter}

    ld_args = ["kafka-log-dirs", "--bootstrap-server", bootstrap, "--describe"]
    if described:
        ld_args += ["--topic-list", ",".join(sorted(described))]
    sizes = sizes_by_partition(parse_log_dirs(run_tool(harness, *ld_args)))

    topics = []
    for name in sorted(described):
        parts = []
        for p in sorted(described[name], key=lambda p: p["partition"]):
            per = sizes.get((name, p["partition"]), {})
            p = dict(p)
            p["size_bytes"] = max(per.values()) if per else 0
            p["replica_sizes"] = {str(k): v for k, v in sorted(per.items())}  # extra field
            if p["leader"] is None:
                del p["leader"]
            parts.append(p)
            for r in p["replicas"]:
                brokers.setdefault(r, {"id": r, "rack": None, "host": None, "port": None, "alive": False})
        topics.append({"name": name, "partitions": parts})

    def clean(b):
        return {k: v for k, v in b.items() if v is not None}

    return {
        "version": 1,
        "cluster_id": md["cluster_id"],
        "source": "kafka-topics --describe + kafka-log-dirs --describe (tests/kafka/snapshot.py)",
        "brokers": [clean(brokers[k]) for k in sorted(brokers)],
        "topics": topics,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap")
    ap.add_argument("--harness", default=os.path.join(HERE, "cluster.sh"))
    ap.add_argument("--config-dir")
    ap.add_argument("--topics", help="comma-separated topics to include (default: all)")
    ap.add_argument("--exclude-internal", action="store_true")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    base = os.environ.get("KAFKA_HARNESS_DIR", os.path.join(REPO, "target", "kafka"))
    bootstrap = a.bootstrap
    if not bootstrap:
        with open(os.path.join(base, "bootstrap")) as f:
            bootstrap = f.read().strip()
    config_dir = a.config_dir or os.path.join(base, "cluster", "config")
    topics = [t for t in a.topics.split(",") if t] if a.topics else None
    snap = build(bootstrap, a.harness, config_dir, topics, a.exclude_internal)
    text = json.dumps(snap, indent=1) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
