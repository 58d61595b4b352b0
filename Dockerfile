# One image for every CloudGreet process: the API (`cloudgreet api`), the worker
# (`cloudgreet worker`) and the one-off `cloudgreet migrate`. Configured only by environment
# variables (README.md, "Settings"); docker-compose.yml shows a whole deployment.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY domain domain
COPY runtime runtime
COPY workflows workflows
COPY activities activities
COPY api api
COPY database database
COPY business business
COPY receptionist receptionist
COPY simulator simulator
COPY cloudgreet cloudgreet
COPY worker.py .
# A regular (not editable) install: the migrations, page templates and static files come along
# as package data (pyproject.toml), so the image needs nothing from /app at run time.
RUN pip install --require-hashes -r requirements.lock && pip install --no-deps . && useradd --system --uid 10001 --no-create-home cloudgreet \
    && install -d -o cloudgreet /var/lib/cloudgreet/last-rung

# Never root at run time. The processes write nothing to the image's disk; the one directory they
# write (the API's last-rung outbox) is made here, owned by the user, for a volume to be mounted
# on: a new named volume takes the ownership of the directory it covers.
USER cloudgreet
# 8000: the API (webhooks, health, admin pages, /metrics). 9464: the worker's metrics (METRICS_PORT).
EXPOSE 8000 9464
CMD ["cloudgreet", "api", "--host", "0.0.0.0", "--port", "8000"]
