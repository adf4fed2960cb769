"""Persistence for Pantau: SQLModel tables, engine set-up, query functions, migrations.

This package never imports ``monitor``: it stores plain values and returns table rows.
"""
