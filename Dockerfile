FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflows workflows
COPY activities activities
COPY api api
COPY database database
COPY business business
COPY receptionist receptionist
COPY simulator simulator
COPY cloudgreet cloudgreet
COPY worker.py .
RUN pip install --no-cache-dir .
USER nobody
CMD ["cloudgreet", "api", "--host", "0.0.0.0"]
