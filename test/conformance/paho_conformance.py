#!/usr/bin/python3
"""A second MQTT 3.1.1 client stack against our broker: Debian's paho-mqtt (python3-paho-mqtt).

Usage: /usr/bin/python3 paho_conformance.py <port> <topic prefix>

Connects anonymously to 127.0.0.1:<port> and checks, with paho's own client:
  - a retained message reaches a later subscriber with the retain flag, at the granted QoS [MQTT-3.3.1-6];
  - a retained message published by MQTT.js (<prefix>/from-mqttjs) reaches paho;
  - a QoS 2 round trip is delivered at QoS 2, once; a QoS 2 message on a `+` subscription granted
    QoS 1 arrives at QoS 1 [MQTT-3.8.4-6];
  - a client that loses its connection without DISCONNECT has its will published [MQTT-3.1.2-8].
Prints one JSON object on stdout and exits 0 when every check passed, 1 otherwise.
Written for paho-mqtt 1.6 (Debian 12); also runs on 2.x (callback API version 1).
"""
import json
import socket
import sys
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt

HOST = '127.0.0.1'
PORT = int(sys.argv[1])
PREFIX = sys.argv[2] if len(sys.argv) > 2 else 'paho'
TIMEOUT = 8.0


def make_client(client_id):
    options = dict(client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311, reconnect_on_failure=False)
    if hasattr(mqtt, 'CallbackAPIVersion'):  # paho-mqtt >= 2.0
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **options)
    return mqtt.Client(**options)


class Peer:
    """One paho client driven by its network thread, with what it saw."""

    def __init__(self, client_id, will=None):
        self.client = make_client(client_id)
        self.cond = threading.Condition()
        self.connack = None
        self.messages = []
        self.granted = {}
        self.acked = set()
        if will:
            self.client.will_set(will['topic'], will['payload'], qos=will['qos'], retain=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish

    def _notify(self, change):
        with self.cond:
            change()
            self.cond.notify_all()

    def _on_connect(self, _client, _userdata, _flags, rc):
        self._notify(lambda: setattr(self, 'connack', rc))

    def _on_message(self, _client, _userdata, msg):
        entry = {'topic': msg.topic, 'payload': msg.payload.decode('utf-8'), 'qos': msg.qos, 'retain': bool(msg.retain)}
        self._notify(lambda: self.messages.append(entry))

    def _on_subscribe(self, _client, _userdata, mid, granted_qos):
        self._notify(lambda: self.granted.__setitem__(mid, list(granted_qos)))

    def _on_publish(self, _client, _userdata, mid):
        self._notify(lambda: self.acked.add(mid))

    def wait(self, check, what):
        with self.cond:
            if not self.cond.wait_for(check, timeout=TIMEOUT):
                raise TimeoutError('timed out waiting for ' + what)
            return check()

    def connect(self, with_thread=True):
        self.client.connect(HOST, PORT, keepalive=30)
        if with_thread:
            self.client.loop_start()
            self.wait(lambda: self.connack is not None, 'CONNACK')
        else:
            deadline = time.monotonic() + TIMEOUT
            while self.connack is None and time.monotonic() < deadline:
                self.client.loop(timeout=0.05)
            if self.connack is None:
                raise TimeoutError('timed out waiting for CONNACK')
        return self.connack

    def subscribe(self, topic, qos):
        rc, mid = self.client.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError('subscribe failed: %d' % rc)
        return self.wait(lambda: self.granted.get(mid), 'SUBACK for ' + topic)

    def publish(self, topic, payload, qos, retain=False):
        """Returns once the publish flow is complete: PUBACK (QoS 1) or PUBCOMP (QoS 2)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError('publish failed: %d' % info.rc)
        self.wait(lambda: info.mid in self.acked, 'the end of the publish flow on ' + topic)

    def message(self, topic):
        return self.wait(lambda: next((m for m in self.messages if m['topic'] == topic), None), 'a message on ' + topic)

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def main():
    result = {'paho': paho.mqtt.__version__, 'checks': {}, 'errors': []}
    checks = result['checks']
    peers = []
    try:
        pub = Peer('paho-pub-' + PREFIX)
        sub = Peer('paho-sub-' + PREFIX)
        peers += [pub, sub]
        result['connack'] = [pub.connect(), sub.connect()]
        checks['connected'] = result['connack'] == [0, 0]

        # retained, paho → paho
        # QoS 2: the broker answers PUBREC once the message is stored (its QoS 1 PUBACK comes first),
        # so the SUBSCRIBE below meets a retained message, not one still in flight.
        pub.publish(PREFIX + '/retained', 'paho-kept', qos=2, retain=True)
        result['retainedGranted'] = sub.subscribe(PREFIX + '/retained', 1)
        result['retained'] = sub.message(PREFIX + '/retained')
        checks['retained'] = result['retained'] == {'topic': PREFIX + '/retained', 'payload': 'paho-kept', 'qos': 1, 'retain': True}

        # retained, MQTT.js → paho (the test published it before starting this script)
        sub.subscribe(PREFIX + '/from-mqttjs', 1)
        result['fromMqttjs'] = sub.message(PREFIX + '/from-mqttjs')
        checks['fromMqttjs'] = result['fromMqttjs']['retain'] is True and result['fromMqttjs']['qos'] == 1

        # QoS 2 round trip, then a QoS 2 message on a `+` subscription granted QoS 1
        result['q2Granted'] = sub.subscribe(PREFIX + '/q2', 2)
        result['q1Granted'] = sub.subscribe(PREFIX + '/q1/+', 1)
        pub.publish(PREFIX + '/q2', 'paho-q2', qos=2)
        pub.publish(PREFIX + '/q1/x', 'paho-q2-to-q1', qos=2)
        result['qos2'] = sub.message(PREFIX + '/q2')
        result['downgraded'] = sub.message(PREFIX + '/q1/x')
        checks['qos2'] = result['q2Granted'] == [2] and result['qos2'] == {'topic': PREFIX + '/q2', 'payload': 'paho-q2', 'qos': 2, 'retain': False}
        checks['downgraded'] = result['q1Granted'] == [1] and result['downgraded']['qos'] == 1

        # will: a client whose connection drops without DISCONNECT
        sub.subscribe(PREFIX + '/will', 1)
        dying = Peer('paho-dying-' + PREFIX, will={'topic': PREFIX + '/will', 'payload': 'paho-gone', 'qos': 1})
        result['dyingConnack'] = dying.connect(with_thread=False)
        raw = dying.client.socket()
        raw.shutdown(socket.SHUT_RDWR)
        raw.close()
        result['will'] = sub.message(PREFIX + '/will')
        checks['will'] = result['will'] == {'topic': PREFIX + '/will', 'payload': 'paho-gone', 'qos': 1, 'retain': False}

        # exactly one copy of each QoS 2 message [MQTT-4.3.3]
        q2_copies = [m for m in sub.messages if m['topic'] == PREFIX + '/q2']
        checks['qos2Once'] = len(q2_copies) == 1

        pub.publish(PREFIX + '/retained', '', qos=1, retain=True)  # leave no retained message behind
    except Exception as err:  # report, never hide: the test prints this JSON on failure
        result['errors'].append('%s: %s' % (type(err).__name__, err))
    finally:
        for peer in peers:
            try:
                peer.close()
            except Exception as err:
                result['errors'].append('close: %s' % err)
    result['ok'] = not result['errors'] and bool(checks) and all(checks.values())
    print(json.dumps(result))
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
