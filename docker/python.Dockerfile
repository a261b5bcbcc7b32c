# The producer and operator images: a slim Python with ctr installed, run as a non-root user.
# Build with --target producer or --target operator.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin ctr
WORKDIR /opt/ctr/src
COPY pyproject.toml README.md ./
COPY ctr ctr
COPY producer producer
COPY job job
COPY operator operator

FROM base AS producer
RUN pip install --no-cache-dir . && rm -rf /opt/ctr/src
USER 10001
ENTRYPOINT ["ctr"]
CMD ["produce"]

FROM base AS operator
RUN pip install --no-cache-dir ".[operator]" && rm -rf /opt/ctr/src
USER 10001
ENTRYPOINT ["ctr"]
CMD ["operator"]
