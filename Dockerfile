# wfgy-rules as a container image: the init container, the fleet audit Job, or a CI step.
#   docker build -t wfgy-rules .
#   docker run --rm -v "$PWD:/work" -w /work wfgy-rules eval
# With extras: the admission webhook (`serve`) and signed attestations (`attest`):
#   docker build --build-arg EXTRAS=serve,attest -t wfgy-rules-serve .
# To wrap an app's entrypoint instead, install wfgy-rules into the app's own image
# (policies.example/kubernetes/README.md).
FROM python:3.11-slim

# No .pyc files (the root filesystem may be read-only), logs unbuffered, no pip chatter.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the wheel is built from: the package, the shipped rule packs and schemas.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY wfgy_rules ./wfgy_rules
COPY rules ./rules
COPY schemas ./schemas
ARG EXTRAS=""
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" && rm -rf /src

# A numeric non-root user, so Kubernetes can verify `runAsNonRoot: true`.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin wfgy
USER 10001:10001
WORKDIR /work

ENTRYPOINT ["wfgy-rules"]
CMD ["--help"]
