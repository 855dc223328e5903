"""What a worker runs: one task function per job kind (``relax``, ``eos``, ``vib``, ``dband``),
registered in ``base.TASKS``; ``run_job`` is the worker entry point."""

from descriptors.tasks import dband, eos, relax, vib  # noqa: F401  (each registers its task kinds)
from descriptors.tasks.base import (
                                    OPTIMIZERS,
                                    REASON_CALCULATOR,
                                    REASON_EOS_RANGE,
                                    REASON_EXECUTOR,
                                    REASON_NON_FINITE,
                                    REASON_NOT_CONVERGED,
                                    REASON_SCF,
                                    REASON_WORKER_LOST,
                                    TASKS,
                                    CalcResult,
                                    JobOutcome,
                                    RelaxSettings,
                                    TaskContext,
                                    classify,
                                    run_job,
                                    task,
                                    traceback_tail,
                                    trajectory_path,
)
from descriptors.tasks.eos import fit_bulk
from descriptors.tasks.relax import read_trajectory
from descriptors.tasks.relax import relax as relax_structure

__all__ = ["OPTIMIZERS", "TASKS", "CalcResult", "JobOutcome", "RelaxSettings", "TaskContext", "classify", "run_job",
           "task", "traceback_tail", "trajectory_path", "fit_bulk", "read_trajectory", "relax_structure",
           "REASON_CALCULATOR", "REASON_EOS_RANGE", "REASON_EXECUTOR", "REASON_NON_FINITE", "REASON_NOT_CONVERGED",
           "REASON_SCF", "REASON_WORKER_LOST"]
