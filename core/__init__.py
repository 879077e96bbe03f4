"""Rules of the domain: indicators, quarters, plans, pace and validation.

Nothing here imports Qt or SQLAlchemy; every function takes and returns plain values.
"""
