# Production image: gunicorn + whitenoise, non-root. Worker and beat run the same image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PORT=8000
WORKDIR /app

RUN groupadd --system app && useradd --system --gid app --home /app app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings but no database or real secrets.
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEYS=ZmFrZS1idWlsZC1rZXktZmFrZS1idWlsZC1rZXktMDA= PII_INDEX_KEY=build \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R app:app /app/var

USER app
EXPOSE 8000
CMD ["sh", "-c", "gunicorn config.wsgi:application --bind 0.0.0.0:${PORT} --workers 3 --threads 4 --timeout 120 --no-control-socket"]
