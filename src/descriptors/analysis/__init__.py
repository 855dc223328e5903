"""From adsorption energies to free energies, limiting potentials, scaling relations and volcanoes.

``load_store``/``load_csv`` (dataset.py) read a screen database or a CSV of energies computed
elsewhere; ``run_analysis`` (compute.py) builds the pathways (network.py), fits the scaling
relations (scaling.py) and the volcanoes (volcano.py); ``write_outputs`` (outputs.py) writes the
tables and the figures (plots.py).  The analysis never starts a calculation: vibrations for
computed corrections are jobs of workflows/vibrations.py.
"""

from descriptors.analysis.compute import AnalysisResult, run_analysis
from descriptors.analysis.dataset import Dataset, level_rows, load_csv, load_store
from descriptors.analysis.outputs import SUMMARY_COLUMNS, write_outputs

__all__ = ["AnalysisResult", "run_analysis", "Dataset", "level_rows", "load_csv", "load_store", "SUMMARY_COLUMNS",
           "write_outputs"]
