"""The output directory of a screen: the result database (``screen.db``, or PostgreSQL), the plan
(``plan.json``), and the table rows read from the database."""

from descriptors.store.db import (
           STATUS_FAILED,
           STATUS_OK,
           STATUS_UNCONVERGED,
           Store,
           StoreError,
           is_url,
           redact,
)
from descriptors.store.lock import StoreLock, StoreLocked
from descriptors.store.plan import PLAN_NAME, Plan, plan_db
from descriptors.store.rows import (
           BEST_COLUMNS,
           SITE_COLUMNS,
           best_rows,
           latest_rows,
           row_dict,
           site_rows,
           write_csv,
)

__all__ = ["Store", "StoreError", "StoreLock", "StoreLocked", "plan_db", "STATUS_OK", "STATUS_FAILED", "STATUS_UNCONVERGED", "is_url", "redact", "Plan", "PLAN_NAME",
           "best_rows", "latest_rows", "row_dict", "site_rows", "write_csv", "BEST_COLUMNS", "SITE_COLUMNS"]
