"""monitor.dedup.index"""
