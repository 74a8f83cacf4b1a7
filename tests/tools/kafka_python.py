#!/usr/bin/env python3
"""kafka-python (PyPI's pure-Python client) against a cluster, for the
wire suite's kafka-python scenarios (tests/it/wire/python.rs), on the
mini-broker and on a real Kafka alike.

    member BOOTSTRAP TOPIC GROUP CLIENT_ID
        A KafkaConsumer(group_id=GROUP) subscribed to TOPIC: reads from the
        earliest offset, commits (synchronously) after every poll that gave
        records, and closes (LeaveGroup) when its standard input ends.
        Prints one JSON object a line: {"event": "assigned", "partitions":
        [...]} at every assignment, {"event": "record", "partition": P,
        "offset": O, "value": V} per record, {"event": "committed"} or
        {"event": "commit-failed", "error": E}, then {"event": "closed"}.

    alter-retention BOOTSTRAP TOPIC MS
        KafkaAdminClient.alter_configs of retention.ms=MS on TOPIC (the
        classic AlterConfigs, which replaces the topic's whole set), then
        describe_configs of the topic. Prints {"alter": [[code, message],
        ...], "configs": {name: [value, source], ...}}.

Needs kafka-python (.ci/run installs it into target/py); exits non-zero
with Python's error when it is missing, so the tests fail, never skip.
"""

import json
import time
import sys
import threading

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import CommitFailedError


def emit(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


def member(bootstrap, topic, group, client_id):
    stop = threading.Event()

    def watch_stdin():
        # The test closes our standard input to say "leave now".
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=client_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # Quick heartbeats so a rebalance is noticed soon; a session well
        # above them, as the rdkafka members of the suite use.
        session_timeout_ms=10000,
        heartbeat_interval_ms=500,
    )

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            emit(event="assigned", partitions=sorted(tp.partition for tp in assigned))

    consumer.subscribe([topic], listener=Listener())
    while not stop.is_set():
        batch = consumer.poll(timeout_ms=200)
        got = 0
        for tp in sorted(batch, key=lambda tp: tp.partition):
            for r in batch[tp]:
                emit(event="record", partition=r.partition, offset=r.offset,
                     value=r.value.decode())
                got += 1
        if got:
            try:
                consumer.commit()
                emit(event="committed")
            except CommitFailedError as e:
                # A rebalance took the partitions meanwhile: the next
                # owner reads them again, as with Kafka.
                emit(event="commit-failed", error=str(e))
    consumer.close(autocommit=False)
    emit(event="closed")


def alter_retention(bootstrap, topic, ms):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="km-python-admin")
    altered = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": ms})]
    )
    alter = [[r["error_code"], r["error_message"]] for r in altered.to_object()["resources"]]
    # The broker asked may not have the change yet (Kafka applies it when
    # the metadata reaches it): look again for up to 10 s.
    for _ in range(20):
        configs = {}
        errors = []
        for response in admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)]):
            for r in response.to_object()["resources"]:
                if r["error_code"] != 0:
                    errors.append([r["error_code"], r["error_message"]])
                for e in r["config_entries"]:
                    configs[e["config_names"]] = [e["config_value"], e["config_source"]]
        if errors or configs.get("retention.ms", [None])[0] == str(ms):
            break
        time.sleep(0.5)
    alter.extend(errors)
    admin.close()
    print(json.dumps({"alter": alter, "configs": configs}, sort_keys=True))


def main(argv):
    commands = {"member": (member, 4), "alter-retention": (alter_retention, 3)}
    if len(argv) < 1 or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        sys.exit(__doc__)
    f, _ = commands[argv[0]]
    f(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
