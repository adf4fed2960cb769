"""Persistence for Pantau: SQLModel tables, engine set-up, query functions, migrations.

This package never imports ``monitor``: it stores plain values and returns table rows, and it
is the only package that speaks SQL. Database failures leave it as ``storage.errors``.
"""
