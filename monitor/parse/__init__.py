"""monitor.parse.feed"""
