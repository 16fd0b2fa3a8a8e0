#!/usr/bin/env python3
"""A Sparkplug B 3.0 primary host application for Millwright's black-box tests, built on
pysparkplug (an implementation independent of Millwright's): it decodes with its own copy of
Eclipse Tahu's proto and resolves DDATA aliases from the births it saw.

  sparkplug_host.py listen PORT GROUP HOST_ID
      Publishes STATE online (retained, QoS 1; the will says offline), subscribes to
      spBv1.0/GROUP/# and prints each message as one JSON line:
      {"type", "topic", "device", "seq", "qos", "retain", "metrics": [{"name", "alias", "datatype", "value", "is_null"}]}
  sparkplug_host.py rebirth PORT GROUP NODE
  sparkplug_host.py dcmd PORT GROUP NODE DEVICE METRIC true|false
  sparkplug_host.py state PORT HOST_ID online|offline
"""
import datetime
import faulthandler
import json
import sys
import threading
import time

import pysparkplug as psp


def now_ms():
    return int(time.time() * 1000)


def metric_json(m):
    value = m.value
    if isinstance(value, bytes):
        value = value.hex()
    elif isinstance(value, datetime.datetime):
        value = round(value.timestamp() * 1000)
    return {"name": m.name, "alias": m.alias, "datatype": m.datatype.name if m.datatype is not None else None,
            "value": value, "is_null": m.is_null}


def connected_client(port, client_id, will=None):
    client = psp.Client(client_id=client_id)
    if will is not None:
        client.set_will(will)
    ready = threading.Event()
    client.connect("127.0.0.1", port=port, blocking=False, callback=lambda _c: ready.set())
    if not ready.wait(30):
        sys.exit("could not connect to the broker")
    return client


def state_message(host_id, online, timestamp=None):
    state = psp.State(timestamp=timestamp if timestamp is not None else now_ms(), online=online)
    return psp.Message(topic=psp.Topic(message_type=psp.MessageType.STATE, sparkplug_host_id=host_id), payload=state,
                       qos=psp.QoS.AT_LEAST_ONCE, retain=True)


def listen(port, group, host_id):
    # Sparkplug 3.0: the will's timestamp is the online STATE's, so edge nodes take it as newer-or-equal.
    born = now_ms()
    client = connected_client(port, f"host-{host_id}", will=state_message(host_id, False, born))
    lock = threading.Lock()

    def on_message(_client, message):
        t = message.topic
        payload = message.payload
        line = {"type": t.message_type.value if hasattr(t.message_type, "value") else str(t.message_type),
                "topic": str(t), "node": t.edge_node_id, "device": t.device_id,
                "qos": int(message.qos), "retain": bool(message.retain),
                "seq": getattr(payload, "seq", None), "metrics": []}
        if isinstance(payload, psp.NDeath):
            line["metrics"] = [metric_json(payload.bd_seq_metric)]
        elif hasattr(payload, "metrics"):
            line["metrics"] = [metric_json(m) for m in payload.metrics]
        with lock:
            print(json.dumps(line), flush=True)

    client.subscribe(psp.Topic(group_id=group, message_type=psp.MULTI_LEVEL_WILDCARD), psp.QoS.AT_LEAST_ONCE, on_message)
    client.publish(state_message(host_id, True, born))
    print(json.dumps({"type": "HOST_READY"}), flush=True)
    threading.Event().wait()


def send(port, message):
    client = connected_client(port, f"cmd-{now_ms()}")
    # paho calls on_publish once a QoS 0 message is written or a QoS 1 message is acknowledged:
    # disconnecting only then means the broker has the command before this process exits.
    published = threading.Event()
    client._client.on_publish = lambda _c, _u, _mid: published.set()
    client.publish(message, include_dtypes=True)
    if not published.wait(15):
        sys.exit("the broker never acknowledged the command")
    client.disconnect()


def main(argv):
    mode, port = argv[1], int(argv[2])
    if mode != "listen":
        # A command that has not finished in 20 s prints every thread's stack (to the test's
        # failure message) and exits, rather than leave the test guessing.
        faulthandler.dump_traceback_later(20, exit=True)
    if mode == "listen":
        listen(port, argv[3], argv[4])
    elif mode == "rebirth":
        group, node = argv[3], argv[4]
        metric = psp.Metric(timestamp=now_ms(), name="Node Control/Rebirth", datatype=psp.DataType.BOOLEAN, value=True)
        send(port, psp.Message(topic=psp.Topic(group_id=group, message_type=psp.MessageType.NCMD, edge_node_id=node),
                               payload=psp.NCmd(timestamp=now_ms(), metrics=(metric,)), qos=psp.QoS.AT_MOST_ONCE, retain=False))
    elif mode == "dcmd":
        group, node, device, name, value = argv[3], argv[4], argv[5], argv[6], argv[7] == "true"
        metric = psp.Metric(timestamp=now_ms(), name=name, datatype=psp.DataType.BOOLEAN, value=value)
        send(port, psp.Message(topic=psp.Topic(group_id=group, message_type=psp.MessageType.DCMD, edge_node_id=node, device_id=device),
                               payload=psp.DCmd(timestamp=now_ms(), metrics=(metric,)), qos=psp.QoS.AT_MOST_ONCE, retain=False))
    elif mode == "state":
        send(port, state_message(argv[3], argv[4] == "online"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
