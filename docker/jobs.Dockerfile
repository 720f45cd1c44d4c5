# syntax=docker/dockerfile:1
# Images for `docker compose` users, mirroring the local default (`make run`):
#   target `jobs`:    Python 3.11 + Java 17 + .venv/jobs from requirements/jobs.lock (Spark local mode, moto)
#   target `airflow`: `jobs` + .venv/airflow and .venv/dbt from their locks, runs `airflow standalone`
# The venvs sit at the same paths as on a laptop (/app/.venv/<name>) so Makefile targets work unchanged.
FROM python:3.11-slim-bookworm AS jobs

# torch in jobs.lock is the CPU build (+cpu); it is served by the PyTorch CPU wheel index, not PyPI.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PLATFORM_ENV=local \
    SPARK_LOCAL_IP=127.0.0.1 \
    OPENBLAS_NUM_THREADS=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    UV_LINK_MODE=copy

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless make procps \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.8

WORKDIR /app
COPY requirements/jobs.lock requirements/jobs.lock
RUN uv venv --python /usr/local/bin/python3.11 .venv/jobs \
    && VIRTUAL_ENV=/app/.venv/jobs uv pip sync --no-cache --index-strategy unsafe-best-match \
       --extra-index-url "$TORCH_INDEX_URL" requirements/jobs.lock

COPY . /app
RUN VIRTUAL_ENV=/app/.venv/jobs uv pip install --no-cache --no-deps -e . \
    && mkdir -p /app/lake /app/.local \
    && touch .venv/jobs/.synced
ENV PATH=/app/.venv/jobs/bin:$PATH
CMD ["python", "-m", "common.local_services", "bootstrap"]


FROM jobs AS airflow
RUN uv venv --python /usr/local/bin/python3.11 .venv/airflow \
    && VIRTUAL_ENV=/app/.venv/airflow uv pip sync --no-cache --index-strategy unsafe-best-match requirements/airflow.lock \
    && uv venv --python /usr/local/bin/python3.11 .venv/dbt \
    && VIRTUAL_ENV=/app/.venv/dbt uv pip sync --no-cache --index-strategy unsafe-best-match requirements/dbt.lock \
    && touch .venv/airflow/.synced .venv/dbt/.synced
ENV AIRFLOW_HOME=/app/.local/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/app/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__CORE__PARALLELISM=4
EXPOSE 8080
CMD ["/app/.venv/airflow/bin/airflow", "standalone"]
