"""Runs python-banyan 3.17's own MqttGateway class on loopback.

Python's `mgw` entry point drops its -b flag (it rebuilds its options dict without it) and
passes the MQTT port as a string; this wrapper calls the unmodified MqttGateway class with
the backplane address 127.0.0.1 and integer ports instead.

usage: mgw_loopback.py PUBLISHER_PORT SUBSCRIBER_PORT MQTT_PORT MQTT_PUB_TOPIC MQTT_SUB_TOPIC
                       BANYAN_PUB_TOPIC
"""
import sys

from python_banyan.utils.mqtt_gateway.mqtt_gateway import MqttGateway

pub, sub, mqtt_port, mqtt_pub, mqtt_sub, banyan_pub = sys.argv[1:7]
MqttGateway(
    back_plane_ip_address="127.0.0.1",
    publisher_port=pub,
    subscriber_port=sub,
    mqtt_addr="127.0.0.1",
    mqtt_port=int(mqtt_port),
    mqtt_pub_topic=mqtt_pub,
    mqtt_sub_topics=mqtt_sub,
    banyan_sub_topics="to_mqtt",
    banyan_pub_topic=banyan_pub,
)
