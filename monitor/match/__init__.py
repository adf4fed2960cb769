"""monitor.match.matcher"""
