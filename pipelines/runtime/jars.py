"""Jars that the local runtime needs, fetched once from Maven Central and cached.

Two sets live under ``.cache/jars`` in the project folder (ignored by git):

- ``spark``: Delta Lake and Spark's Kafka connector with their runtime
  dependencies, minus every jar that the pyspark wheel already ships, so the
  session never loads two versions of one library.
- ``kafka``: Apache Kafka's broker jars for the local KRaft broker.

Maven resolves them with ``infra/jars/*-pom.xml`` into ``.cache/m2``. A second
run finds the stamp file and the jars and touches no network; ``mvn -o`` is used
when the local repository is already populated.

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
MAVEN_REPO = CACHE_DIR / "m2"
POM_DIR = PROJECT_ROOT / "infra" / "jars"

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
        stamp.write_text("resolved by Maven from " + str(POM_DIR / f"{jar_set}-pom.xml") + "\n")
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
    if shutil.which("mvn") is None:
        raise SetupError("Maven (mvn) is not on PATH; install it (apt-get install maven) to fetch the jars")
    pom = POM_DIR / f"{jar_set}-pom.xml"
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "mvn", "-q", "-B",
        "-f", str(pom),
        f"-Dmaven.repo.local={MAVEN_REPO}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    if _is_offline_ready():
        command.insert(1, "-o")
    log.info("fetching %s jars with Maven into %s (first run only)", jar_set, target)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "-o" in command:
        # The local repository may lack an artifact; retry online once.
        command.remove("-o")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"Maven could not resolve {pom}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")

    if jar_set == SPARK_JAR_SET:
        _drop_jars_shipped_by_pyspark(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _is_offline_ready() -> bool:
    return (MAVEN_REPO / "org" / "apache" / "maven" / "plugins" / "maven-dependency-plugin").exists()


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
