"""From adsorption energies to free energies, limiting potentials, scaling relations and volcanoes.

``load_store``/``load_csv`` (dataset.py) read a screen database or a CSV of energies computed
elsewhere; ``run_analysis`` (compute.py) analyses every catalyst on a reaction network given as
data (data/networks.toml, netdata.py; routes, U_L and selectivity in routes.py), fits the scaling
relations (scaling.py), the volcanoes (volcano.py) and the product maps (productmap.py); ``write_outputs`` (outputs.py) writes the
tables and the figures (plots.py).  The analysis never starts a calculation: vibrations for
computed corrections are jobs of workflows/vibrations.py.
"""

from descriptors.analysis.compute import AnalysisResult, run_analysis, settings_network
from descriptors.analysis.dataset import Dataset, level_rows, load_csv, load_store
from descriptors.analysis.outputs import SUMMARY_COLUMNS, write_outputs

__all__ = ["AnalysisResult", "run_analysis", "settings_network", "Dataset", "level_rows", "load_csv", "load_store", "SUMMARY_COLUMNS",
           "write_outputs"]
