"""monitor.extract.article"""
