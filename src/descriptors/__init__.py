"""Descriptor screening for electrochemical nitrate reduction (NO3RR).

Data flow: spec -> jobs -> engine -> calculator -> store -> analysis.
Plain ``ase.Atoms`` in and out; metadata lives in ``atoms.info``.
"""

__version__ = "0.1.0"
