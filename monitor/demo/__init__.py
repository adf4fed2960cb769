"""monitor.demo"""
