"""Fault tests reuse the integration harness (real processes on loopback,
bounded waits, kill by PID)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
