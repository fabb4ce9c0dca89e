"""Delivery to other services: the dispatcher that reads the events after each
subscription's cursor, the webhook sender and the NATS publisher."""
