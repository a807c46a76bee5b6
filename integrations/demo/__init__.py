"""The demo's loopback platform: replies and threads with no accounts."""
