# AIops as a container: the same `gen` function, served by functions-framework (gunicorn, one
# process, THREADS threads). For Sealos App Launchpad, Cloud Run, Knative or any container host.
#   docker build -t aiops .
#   docker run --rm -p 8080:8080 -e MONGODB_URI=... aiops
# Python 3.12 to match the Lambda runtime of serverless.yml.
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: the runtime dependencies in a virtual environment, nothing else ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt requirements-lambda.txt /tmp/
# Wheels only: every dependency ships them for linux x86_64 and aarch64, so no compiler is needed.
RUN /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt

# --- run ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    WORKERS=1 \
    THREADS=16 \
    XDG_RUNTIME_DIR=/tmp
# gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR, else in $HOME/.gunicorn, which the
# running user cannot write (/app): it would log a plain-text ERROR at every start. With a
# read-only root file system, mount a tmpfs at /tmp (docker run --read-only --tmpfs /tmp).
# functions-framework listens on $PORT and starts WORKERS gunicorn processes of THREADS threads
# each (its own default, 4 per host CPU, counts the host's CPUs, not the container's limit). A
# request mostly waits on the model, so threads, not processes, give the concurrency.
RUN groupadd --system --gid 10001 aiops \
    && useradd --system --uid 10001 --gid aiops --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin aiops
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY handler.py ./
COPY aiops/ ./aiops/
# The reference page and its client, served at GET / and GET /aiops-client.js.
COPY examples/index.html examples/aiops-client.js ./examples/
# Byte-code compiled at build time: the running user cannot write to /app.
RUN python -m compileall -q /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
CMD ["functions-framework", "--source", "handler.py", "--target", "gen"]
