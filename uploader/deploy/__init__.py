"""Deployment: bundles in, cached Python environments out, and the client that sends them.

Owns the bundle format and its safe extraction (``bundles``), the processing of a
bundle's requirements (``requirements``), the configured Pythons (``pythons``), the
installers pip and uv behind one ``Installer`` (``installers``), the cache of built
environments (``environments``), the background build tasks (``tasks``), the builder
that runs on the server (``builder``), the client that writes and publishes bundles
(``client``), their errors (``errors``) and the click commands over them (``commands``,
added to ``timeshelf`` by ``uploader.cli``; not re-exported here). It may import
``generator`` (errors, config, and ``generator.cli.context`` for the commands) and
nothing from ``uploader.api``, ``uploader.serving`` or ``uploader.app``: the bundle API
calls it, never the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from uploader.deploy.builder import Builder, PythonCheck, is_pinned, startup_builder, unpacked
    from uploader.deploy.bundles import (
        DEFAULT_PACKAGE_FILE,
        MANIFEST,
        BundleLimits,
        Manifest,
        extract_bundle,
        read_manifest,
        requirements_file,
        verify_checksums,
    )
    from uploader.deploy.client import make_bundle, publish_bundle
    from uploader.deploy.environments import BuildPlan, Environment, EnvironmentCache, plan_build
    from uploader.deploy.errors import (
        BuildError,
        BundleError,
        PublishError,
        PythonError,
        RequirementsError,
    )
    from uploader.deploy.installers import Installer, Pip, Uv, choose_installer, find_uv
    from uploader.deploy.pythons import PythonInstall, analyse, select_python
    from uploader.deploy.requirements import (
        DEFAULT_PROHIBITED,
        Policy,
        Processed,
        process_requirements,
    )
    from uploader.deploy.tasks import Task, TaskRegistry, TaskView

__all__ = [
    "DEFAULT_PACKAGE_FILE",
    "DEFAULT_PROHIBITED",
    "MANIFEST",
    "BuildError",
    "BuildPlan",
    "Builder",
    "BundleError",
    "BundleLimits",
    "Environment",
    "EnvironmentCache",
    "Installer",
    "Manifest",
    "Pip",
    "Policy",
    "Processed",
    "PublishError",
    "PythonCheck",
    "PythonError",
    "PythonInstall",
    "RequirementsError",
    "Task",
    "TaskRegistry",
    "TaskView",
    "Uv",
    "analyse",
    "choose_installer",
    "extract_bundle",
    "find_uv",
    "is_pinned",
    "make_bundle",
    "plan_build",
    "process_requirements",
    "publish_bundle",
    "read_manifest",
    "requirements_file",
    "select_python",
    "startup_builder",
    "unpacked",
    "verify_checksums",
]

__getattr__ = lazy_face(__name__, __file__)
