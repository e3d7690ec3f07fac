# Trade Nexus Console image: the Streamlit app and its job worker (`nexus serve`) on port 8000.
#   docker build -t trade-nexus-console .
#   docker run -p 8000:8000 -e APP_ENV=local trade-nexus-console      (production needs sign-in: docs/DEPLOYMENT.md)

# --- build: a virtualenv with the runtime dependencies only (no dev extras), pinned by requirements.lock -------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml requirements.lock ./
# CPU-only torch from the PyTorch index (PyPI's Linux wheel drags in ~3 GB of CUDA libraries). Its own
# dependencies are left to the next step, so they come from PyPI pinned by the lock like everything else.
RUN pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# pyproject's [project.dependencies] only; torch is already satisfied (2.13.0+cpu is what the lock pins).
# torch's C++ headers serve compiling extensions, which never happens at run time.
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > requirements.txt \
    && pip install --no-cache-dir -c requirements.lock -r requirements.txt \
    && rm -rf /opt/venv/lib/python3.11/site-packages/torch/include

# --- runtime: the virtualenv plus only the code that runs, as a non-root user ----------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    HOME=/home/nexus \
    APP_ENV=production \
    NEXUS_HOME=/app/var \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=true \
    STREAMLIT_SERVER_ENABLE_CORS=true \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_SERVER_RUN_ON_SAVE=false \
    STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin nexus
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY pyproject.toml requirements.lock ./
COPY .streamlit/config.toml .streamlit/config.toml
COPY models/ models/
COPY services/ services/
COPY cli/ cli/
COPY api/ api/
COPY components/ components/
COPY pages/ pages/
COPY app/ app/
# the code stays root-owned and read-only for the app; only its state folder (cache, local queue) is writable
RUN mkdir -p /app/var && chown nexus:nexus /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, httpx; sys.exit(httpx.get('http://127.0.0.1:8000/health', timeout=4).status_code != 200)"]
# `nexus serve`: seeds the sample data if missing, migrates the records database once, then runs the Huey worker
# beside `streamlit run app/main.py` (both stop together), so jobs started from the UI run in this replica.
CMD ["python", "-m", "cli.main", "serve", "--port", "8000", "--address", "0.0.0.0"]
