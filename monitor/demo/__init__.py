"""The offline demo apart from the daemon: a loopback news site built from a directory of
articles, replayed through the real pipeline (``pantau replay``).
"""

from monitor.demo.replay import ReplayItem, ReplayReport, item_json, run_replay

__all__ = ["ReplayItem", "ReplayReport", "item_json", "run_replay"]
