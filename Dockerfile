FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000
WORKDIR /src
# The exact, hash-checked tree the suite passed with (refreshed by `make lock`), the
# build backend included: Tally is then built with it, fetching nothing unpinned.
COPY requirements/run.txt requirements/run.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/run.txt
COPY pyproject.toml README.md LICENSE server.py cli.py cli_analytics.py cli_royalties.py ./
COPY api ./api
COPY schema ./schema
COPY resolvers ./resolvers
COPY domain ./domain
COPY db ./db
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && rm -rf /src
# An unprivileged user; /data holds what it writes (a SQLite file, the dev secret)
# when no DATABASE_URL / TALLY_SECRET_KEY is given.
RUN useradd --system --uid 10001 --home-dir /data --create-home tally
USER tally
WORKDIR /data
EXPOSE 8000
CMD ["sh", "-c", "tally migrate && tally seed-demo && exec tally serve"]
