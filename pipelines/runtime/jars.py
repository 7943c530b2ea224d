"""Jars that the local runtime needs, fetched once from Maven Central and cached.

Two sets live under ``.cache/jars`` in the project folder (ignored by git):

- ``spark``: Delta Lake and Spark's Kafka connector with their runtime
  dependencies, minus every jar that the pyspark wheel already ships, so the
  session never loads two versions of one library.
- ``kafka``: Apache Kafka's broker jars for the local KRaft broker.

They are resolved the way Spark resolves ``--packages``: with Apache Ivy, using
the Ivy jar inside the pyspark wheel and Maven Central, from the module files
``infra/jars/*-ivy.xml``. Only Java is needed, not Maven. Ivy's cache is
``.cache/ivy``; a second run finds the stamp file and touches no network.

On clusters Spark gets the same artifacts with ``--packages`` instead (see the
README); this module is for local runs and tests only.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from pipelines.config import PROJECT_ROOT
from pipelines.errors import SetupError

log = logging.getLogger(__name__)

CACHE_DIR = PROJECT_ROOT / ".cache"
JARS_DIR = CACHE_DIR / "jars"
IVY_CACHE = CACHE_DIR / "ivy"
MODULE_DIR = PROJECT_ROOT / "infra" / "jars"

SPARK_JAR_SET = "spark"
KAFKA_JAR_SET = "kafka"

# Jackson must match Spark's own version; the connector's transitive Jackson is
# older and would shadow it.
_ALWAYS_SKIPPED = re.compile(r"^jackson-")
_VERSION_SUFFIX = re.compile(r"-\d[^-]*(-\d+)?\.jar$")


def ensure_jars(jar_set: str) -> list[Path]:
    """Return the cached jars of ``jar_set``, downloading them on first use."""
    target = JARS_DIR / jar_set
    stamp = target / ".complete"
    if not stamp.exists():
        _download(jar_set, target)
        stamp.write_text(f"resolved by Ivy from {MODULE_DIR / f'{jar_set}-ivy.xml'}\n")
    jars = sorted(target.glob("*.jar"))
    if not jars:
        raise SetupError(f"no jars in {target}; delete {target} and run `make jars` again")
    return jars


def spark_jars() -> list[Path]:
    """Return the extra jars for a local Spark session: Delta and Kafka source."""
    return ensure_jars(SPARK_JAR_SET)


def kafka_broker_classpath() -> str:
    """Return the Java classpath of the local Kafka broker."""
    ensure_jars(KAFKA_JAR_SET)
    return str(JARS_DIR / KAFKA_JAR_SET / "*")


def _download(jar_set: str, target: Path) -> None:
    if shutil.which("java") is None:
        raise SetupError("java is not on PATH; install a Java 17 runtime (apt-get install openjdk-17-jre-headless)")
    module_file = MODULE_DIR / f"{jar_set}-ivy.xml"
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "java", "-jar", str(_ivy_jar()),
        "-ivy", str(module_file),
        "-cache", str(IVY_CACHE),
        "-confs", "default",
        # OSGi bundles (snappy, HdrHistogram, some Jackson modules) are jars too.
        "-types", "jar", "bundle",
        "-retrieve", f"{staging}/[artifact]-[revision](-[classifier]).[ext]",
    ]
    log.info("fetching %s jars from Maven Central into %s (first run only)", jar_set, target)
    IVY_CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # Seen here: a first resolution into an empty cache failed to write
        # metadata files, and the same command succeeded when run again.
        log.warning("Ivy failed to resolve %s; trying once more", module_file)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"Ivy could not resolve {module_file}; is Maven Central reachable?\n"
                         f"{result.stdout[-3000:]}{result.stderr[-2000:]}")

    if jar_set == SPARK_JAR_SET:
        _drop_jars_shipped_by_pyspark(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _ivy_jar() -> Path:
    candidates = sorted(_pyspark_jars_dir().glob("ivy-*.jar"))
    if not candidates:
        raise SetupError(f"no Ivy jar in {_pyspark_jars_dir()}; reinstall pyspark")
    return candidates[-1]


def _drop_jars_shipped_by_pyspark(folder: Path) -> None:
    shipped = {_artifact_name(path.name) for path in _pyspark_jars_dir().glob("*.jar")}
    for jar in folder.glob("*.jar"):
        name = _artifact_name(jar.name)
        if name in shipped or _ALWAYS_SKIPPED.match(name):
            jar.unlink()


def _artifact_name(file_name: str) -> str:
    return _VERSION_SUFFIX.sub("", file_name)


def _pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def main() -> None:
    """Fetch both jar sets; ``make jars`` runs this."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for jar_set in (SPARK_JAR_SET, KAFKA_JAR_SET):
        jars = ensure_jars(jar_set)
        print(f"{jar_set}: {len(jars)} jars in {JARS_DIR / jar_set}")


if __name__ == "__main__":
    main()
