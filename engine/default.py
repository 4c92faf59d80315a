"""The default supervisor: ``task_supervisor`` (id ``"default"``).

Created on import, not started. ``background_task``, the workers and
``co_mp_apply`` use it when given no ``supervisor=``; ``engine`` exports it.
Its own module so that nothing inside the engine imports the package.
Created on import (on the importing thread); used from any thread.
"""

from __future__ import annotations

from .supervisor import TaskSupervisor

task_supervisor = TaskSupervisor(supervisor_id="default")

__all__ = ["task_supervisor"]
