FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000
COPY pyproject.toml README.md ./
COPY server.py ./
COPY schema ./schema
COPY resolvers ./resolvers
COPY domain ./domain
COPY db ./db
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["sh", "-c", "python server.py migrate && python server.py seed-demo && exec python server.py serve"]
