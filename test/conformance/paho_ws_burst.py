#!/usr/bin/python3
"""Python paho over WebSocket reads a burst the broker packs several packets to a frame.

Usage: /usr/bin/python3 paho_ws_burst.py <http port> <topic> <count>
Subscribes to <topic> at QoS 1 over ws://127.0.0.1:<port>/mqtt, prints "ready" once subscribed,
then waits for <count> messages and prints one JSON line: {"received": [...payloads in order...]}.
Exits 0 when all arrived in time, 1 otherwise. Written for paho-mqtt 1.6 (Debian 12); also 2.x.
"""
import json
import sys
import threading

import paho.mqtt
import paho.mqtt.client as mqtt

PORT = int(sys.argv[1])
TOPIC = sys.argv[2]
COUNT = int(sys.argv[3])

received = []
done = threading.Event()
subscribed = threading.Event()

kwargs = {'client_id': 'paho-ws-burst', 'transport': 'websockets', 'protocol': mqtt.MQTTv311}
if paho.mqtt.__version__.startswith('2'):
    kwargs['callback_api_version'] = mqtt.CallbackAPIVersion.VERSION1
client = mqtt.Client(**kwargs)
client.ws_set_options(path='/mqtt')


def on_connect(c, userdata, flags, rc):
    c.subscribe(TOPIC, qos=1)


def on_subscribe(c, userdata, mid, granted):
    subscribed.set()


def on_message(c, userdata, msg):
    received.append(msg.payload.decode())
    if len(received) >= COUNT:
        done.set()


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect('127.0.0.1', PORT, keepalive=30)
client.loop_start()
if not subscribed.wait(10):
    print(json.dumps({'error': 'not subscribed'}))
    sys.exit(1)
print('ready', flush=True)
ok = done.wait(15)
client.loop_stop()
print(json.dumps({'received': received}), flush=True)
sys.exit(0 if ok else 1)
