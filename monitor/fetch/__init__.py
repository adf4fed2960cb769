"""monitor.fetch.client"""
