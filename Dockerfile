# opsbot: one image for `opsbot serve` (and every other opsbot command).
#   docker build -t opsbot .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN=... -e SLACK_SIGNING_SECRET=... opsbot
# Keep the Python line in step with pyproject's requires-python.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2"
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPSBOT_HOST=0.0.0.0 \
    OPSBOT_PORT=3000 \
    OPSBOT_KNOWLEDGE_DIR=/app/knowledge \
    OPSBOT_DATABASE_URL=sqlite+aiosqlite:////data/opsbot.db \
    OPSBOT_SPOOL_DIR=/data/spool \
    OPSBOT_LOG_FORMAT=json \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 opsbot \
 && useradd --system --uid 10001 --gid opsbot --home-dir /app --no-create-home opsbot \
 && mkdir -p /app /data && chown opsbot:opsbot /data
# Runtime dependencies only: the wheel's own requirements, no dev extras.
COPY --from=build /dist/*.whl /tmp/
RUN pip install /tmp/*.whl && rm -f /tmp/*.whl
WORKDIR /app
COPY knowledge ./knowledge
USER opsbot
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OPSBOT_PORT', '3000'), timeout=4)"]
CMD ["opsbot", "serve"]
