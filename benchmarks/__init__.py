"""Benchmarks of no3rr-descriptors: ``python -m benchmarks [--quick] [--out FILE.json] [--only NAME]``.

Modules: ``cli`` (the command and the table), ``screens`` (overhead, parallel efficiency, resume
cost, peak memory of real screens in child processes), ``optimizers`` (calculator calls per
relaxation), ``sitefinding`` (against pymatgen's AdsorbateSiteFinder), ``callcount`` (counting
calculator calls from outside, in every process), ``cases`` (what runs in full and --quick mode).
"""
