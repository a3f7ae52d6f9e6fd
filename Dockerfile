# wfgy-rules as a container image: the init container, the fleet audit Job, or a CI step.
#   docker build -t wfgy-rules .
#   docker run --rm -v "$PWD:/work" wfgy-rules eval --stage ci
# With extras: the admission webhook (`serve`) and signed attestations (`attest`):
#   docker build --build-arg EXTRAS=serve,attest -t wfgy-rules-serve .
# To wrap an app's entrypoint instead, install wfgy-rules into the app's own image from the
# wheel this image keeps in /opt/wfgy-rules/ (policies.example/kubernetes/README.md):
#   COPY --from=wfgy-rules /opt/wfgy-rules/ /tmp/wfgy-rules/
#   RUN pip install --no-cache-dir /tmp/wfgy-rules/*.whl && rm -rf /tmp/wfgy-rules
# .dockerignore keeps the rest of a checkout (.git, .venv, tests) out of the build context.
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
# Build the wheel once, keep it for app images, install it (with the extras asked for).
ARG EXTRAS=""
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /opt/wfgy-rules . \
 && set -- /opt/wfgy-rules/wfgy_rules-*.whl \
 && pip install --no-cache-dir "$1${EXTRAS:+[$EXTRAS]}" \
 && rm -rf /src

# A numeric non-root user, so Kubernetes can verify `runAsNonRoot: true`.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin wfgy
USER 10001:10001
WORKDIR /work

ENTRYPOINT ["wfgy-rules"]
CMD ["--help"]
